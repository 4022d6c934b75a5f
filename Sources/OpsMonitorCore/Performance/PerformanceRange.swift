/// `range=` of /api/monitoring/performance.
public enum PerformanceRange: String, CaseIterable, Sendable {
    case hour = "1h"
    case sixHours = "6h"
    case day = "24h"
    case week = "7d"

    public var seconds: Int64 {
        switch self {
        case .hour: return 3_600
        case .sixHours: return 6 * 3_600
        case .day: return 24 * 3_600
        case .week: return 7 * 24 * 3_600
        }
    }

    /// Series step: per minute up to 6 h, per hour beyond.
    public var stepSeconds: Int64 { seconds <= 6 * 3_600 ? 60 : 3_600 }
    public var bucketCount: Int { Int(seconds / stepSeconds) }

    /// Start of the oldest series bucket: the window is the last `bucketCount` steps, the
    /// newest being the current (partial) minute or hour.
    public func firstBucket(now: Double) -> Int64 {
        let current = Int64((now / Double(stepSeconds)).rounded(.down)) * stepSeconds
        return current - Int64(bucketCount - 1) * stepSeconds
    }
}

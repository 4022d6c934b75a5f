/// The windows the aggregate routes accept, and zero-filled series over them.
public enum SeriesWindow: String, CaseIterable, Sendable {
    case today, d7 = "7d", d30 = "30d"

    public static var accepted: String { allCases.map(\.rawValue).joined(separator: ", ") }

    /// [start, end) in UTC: today = the current UTC calendar day; 7d/30d = the last 7/30
    /// calendar days ending with today.
    public func bounds(now: UTCTime) -> (start: UTCTime, end: UTCTime) {
        let day = now.startOfDay
        let end = day.adding(seconds: 86_400)
        switch self {
        case .today: return (day, end)
        case .d7: return (day.adding(seconds: -6 * 86_400), end)
        case .d30: return (day.adding(seconds: -29 * 86_400), end)
        }
    }

    /// Bucket width in seconds: hours for today, days otherwise.
    public var bucketSeconds: Int64 { self == .today ? 3_600 : 86_400 }

    /// Every bucket start of the window, in order.
    public func buckets(now: UTCTime) -> [UTCTime] {
        let (start, end) = bounds(now: now)
        return stride(from: start.seconds, to: end.seconds, by: Int(bucketSeconds)).map { UTCTime(seconds: $0) }
    }
}

public struct SeriesPoint: Equatable, Sendable {
    public let label: String
    public let value: Double
}

public enum ZeroFill {
    /// One point per bucket of the window; buckets without a value get 0. `values` maps a
    /// bucket's start (seconds since epoch) to its value; values outside the window are ignored.
    public static func series(window: SeriesWindow, now: UTCTime, values: [Int64: Double]) -> [SeriesPoint] {
        window.buckets(now: now).map { b in
            SeriesPoint(label: window == .today ? b.hourLabel : b.dateString, value: values[b.seconds] ?? 0)
        }
    }
}

/// Rolling windows of the overview route (ending now).
public enum OverviewPeriod: String, CaseIterable, Sendable {
    case h24 = "24h", d7 = "7d"

    public static var accepted: String { allCases.map(\.rawValue).joined(separator: ", ") }

    public var seconds: Int64 { self == .h24 ? 86_400 : 7 * 86_400 }
}

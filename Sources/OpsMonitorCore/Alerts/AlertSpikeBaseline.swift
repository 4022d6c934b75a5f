/// A spike test that a few outliers in the baseline cannot fool: the baseline is the median
/// of recent windows and its spread the median absolute deviation (scaled by 1.4826 so it
/// estimates a standard deviation for normal data). Counts of rare events have a MAD of 0
/// more often than not, so the spread never goes below √median (the Poisson noise of a
/// count) or 1. A window is a spike when it exceeds median + k·spread and holds at least
/// `minCount` events.
public struct AlertSpikeBaseline: Sendable, Equatable {
    public let median: Double
    public let mad: Double

    public init(_ values: [Double]) {
        let m = Self.median(values)
        median = m
        mad = Self.median(values.map { abs($0 - m) })
    }

    /// The spread used for the bound.
    public var spread: Double { max(1.4826 * mad, median.squareRoot(), 1) }

    /// The highest value that is not a spike.
    public func bound(k: Double) -> Double { median + k * spread }

    public func isSpike(_ value: Double, k: Double, minCount: Double) -> Bool {
        value > bound(k: k) && value >= minCount
    }

    public static func median(_ values: [Double]) -> Double {
        guard !values.isEmpty else { return 0 }
        let s = values.sorted()
        let mid = s.count / 2
        return s.count % 2 == 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2
    }
}

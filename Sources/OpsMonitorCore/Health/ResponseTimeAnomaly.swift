import Foundation

/// A response-time spike against the service's own recent baseline: the median and the median
/// absolute deviation (MAD) of its last 60 good response times, which a few outliers cannot
/// drag the way they drag a mean and a standard deviation.
///
/// The score is taken on the logarithm of the response time. Latencies are skewed (roughly
/// log-normal): on the linear scale, (x − median) / (1.4826·MAD) > 6 fired on 0.1 % of normal
/// samples at σ = 0.3 and on 2 % at σ = 0.8 (one false alarm every 25 minutes for a 30 s
/// probe); on the log scale it fired on none of 200,000 (see HealthAnomalyTests). A spike then
/// means "more than e^(6·1.4826·MAD) times the usual", e.g. 2.4× for a steady service (MAD of
/// the logs 0.1) and 6× for a jittery one (0.3).
public enum ResponseTimeAnomaly {
    /// Samples in the baseline.
    public static let baselineSize = 60
    /// No verdict with fewer good samples than this.
    public static let minimumSamples = 20
    /// Robust z-score above which a sample is a spike.
    public static let threshold = 6.0
    /// A spike must also be this many milliseconds above the median (sub-millisecond jitter of
    /// a fast local service is not an incident).
    public static let absoluteFloorMillis = 10.0
    /// The scale never goes below this (on the log scale: 5 %), so a baseline of identical
    /// values does not make every slightly slower answer a spike.
    public static let minimumScale = 0.05

    /// Whether `value` is a spike against `baseline` (good response times, any order).
    public static func isAnomaly(_ value: Double, baseline: [Double]) -> Bool {
        guard baseline.count >= minimumSamples else { return false }
        let sorted = baseline.sorted()
        // The cheap test first: most samples are nowhere near the floor above the median.
        guard value > medianOfSorted(sorted) + absoluteFloorMillis else { return false }
        return score(value, sortedBaseline: sorted) > threshold
    }

    /// The robust z-score on the log scale, nil with too few samples.
    public static func score(_ value: Double, baseline: [Double]) -> Double? {
        guard baseline.count >= minimumSamples else { return nil }
        return score(value, sortedBaseline: baseline.sorted())
    }

    static func score(_ value: Double, sortedBaseline: [Double]) -> Double {
        // log is increasing, so the logs of a sorted baseline are sorted too.
        let logs = sortedBaseline.map { log(max($0, 0.01)) }
        let m = medianOfSorted(logs)
        let mad = medianOfSorted(logs.map { abs($0 - m) }.sorted())
        let scale = max(1.4826 * mad, minimumScale)
        return (log(max(value, 0.01)) - m) / scale
    }

    public static func median(_ values: [Double]) -> Double { medianOfSorted(values.sorted()) }

    static func medianOfSorted(_ s: [Double]) -> Double {
        guard !s.isEmpty else { return 0 }
        let mid = s.count / 2
        return s.count % 2 == 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2
    }
}

/// Request latencies as counts in fixed buckets, so per-minute rows add up into hours and
/// days and percentiles can still be read from any sum (ordered-set aggregates do not
/// combine across rollups). Bucket i counts latencies in (bounds[i-1], bounds[i]] ms; the
/// last bucket counts everything above the last bound. ops.api_minutes.latency_hist and
/// ops.api_rollups.latency_hist hold at most `bucketCount` counts in this order: trailing
/// empty buckets are left out when stored (`trimmed`), which halves what Postgres has to
/// print for typical API latencies; `add` and `percentile` treat missing buckets as 0.
public enum LatencyHistogram {
    /// Upper bounds in milliseconds: about 19 % apart from 1 ms to 60 s, so an interpolated
    /// percentile is within ~10 % of the true value.
    public static let boundsMillis: [Double] = {
        var bounds: [Double] = [0.25, 0.5, 0.75]
        var b = 1.0
        while b <= 60_000 { bounds.append((b * 100).rounded() / 100); b *= 1.19 }
        return bounds
    }()
    public static var bucketCount: Int { boundsMillis.count + 1 }

    /// The bucket a latency falls in.
    public static func bucket(forMillis ms: Double) -> Int {
        var lo = 0, hi = boundsMillis.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if ms <= boundsMillis[mid] { hi = mid } else { lo = mid + 1 }
        }
        return lo
    }

    /// The p-th percentile (0...100) of the latencies counted, interpolated linearly inside
    /// the bucket that holds rank k = (n-1)·p/100 (the SPEC's closest-ranks rule applied to
    /// bucketed data). nil when nothing was counted. Latencies above the last bound report
    /// the last bound.
    public static func percentile(_ counts: [Int64], _ p: Double) -> Double? {
        let n = counts.reduce(0, +)
        guard n > 0 else { return nil }
        let k = Double(n - 1) * p / 100
        var seen: Int64 = 0
        for (i, c) in counts.enumerated() where c > 0 {
            if Double(seen + c - 1) >= k {
                let lower = i == 0 ? 0 : boundsMillis[min(i - 1, boundsMillis.count - 1)]
                let upper = i < boundsMillis.count ? boundsMillis[i] : boundsMillis[boundsMillis.count - 1]
                // Position of rank k among this bucket's c values, spread evenly over the bucket.
                let within = c == 1 ? 0.5 : (k - Double(seen)) / Double(c - 1)
                return lower + (upper - lower) * max(0, min(1, within))
            }
            seen += c
        }
        return boundsMillis.last
    }

    /// Without its trailing zero counts (at least one element is kept).
    public static func trimmed(_ counts: [Int64]) -> [Int64] {
        var end = counts.count
        while end > 1 && counts[end - 1] == 0 { end -= 1 }
        return Array(counts.prefix(end))
    }

    /// Element-wise sum (histograms of different lengths are padded with zeros).
    public static func add(_ a: [Int64], _ b: [Int64]) -> [Int64] {
        var out = a.count >= b.count ? a : b
        let other = a.count >= b.count ? b : a
        for (i, v) in other.enumerated() { out[i] += v }
        return out
    }
}

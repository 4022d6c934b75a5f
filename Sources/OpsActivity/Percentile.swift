/// Percentiles as SPEC.md defines them: linear interpolation between the closest ranks,
/// k = (n-1)·p/100 over the sorted values (the same as Postgres' percentile_cont).
/// No values → nil.
public enum Percentile {
    public static func of(_ values: [Double], _ p: Double) -> Double? {
        guard !values.isEmpty else { return nil }
        return ofSorted(values.sorted(), p)
    }

    public static func ofSorted(_ sorted: [Double], _ p: Double) -> Double? {
        guard !sorted.isEmpty else { return nil }
        let k = Double(sorted.count - 1) * min(max(p, 0), 100) / 100
        let lo = Int(k.rounded(.down))
        let hi = min(lo + 1, sorted.count - 1)
        return sorted[lo] + (sorted[hi] - sorted[lo]) * (k - Double(lo))
    }
}

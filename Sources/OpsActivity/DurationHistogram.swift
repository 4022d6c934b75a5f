/// How many runs took each whole number of milliseconds. Percentiles read from it are exact:
/// the same as percentile_cont over the durations themselves (SPEC.md: linear interpolation
/// between the closest ranks), from a few tens of thousands of distinct values instead of a
/// sort of every run of the day.
public struct DurationHistogram: Equatable, Sendable {
    public private(set) var counts: [Int64: Int64] = [:]
    /// How many durations it holds (the sum of the counts).
    public private(set) var total: Int64 = 0
    /// Values whose count went below zero: more removed than added, which only a missed
    /// addition can cause. Percentiles are then wrong and the owner must rebuild it.
    public private(set) var negativeValues = 0

    public init() {}

    public var isConsistent: Bool { negativeValues == 0 && total >= 0 }

    /// Adds `count` runs of `durationMs` (a negative count removes them).
    public mutating func add(_ durationMs: Int64, count: Int64) {
        guard count != 0 else { return }
        let before = counts[durationMs] ?? 0
        let after = before + count
        if before < 0 { negativeValues -= 1 }
        if after < 0 { negativeValues += 1 }
        counts[durationMs] = after == 0 ? nil : after
        total += count
    }

    /// percentile_cont(fraction) for each fraction in 0...1 (0.95 is p95), computed as
    /// Postgres does: ranks floor and ceil of fraction·(n−1), then lo + (hi − lo)·(k − floor).
    /// nil when empty or inconsistent.
    public func percentiles(_ fractions: [Double]) -> [Double?] {
        guard total > 0, isConsistent else { return fractions.map { _ in nil } }
        let sorted = counts.keys.sorted()
        // The value at 0-based rank r: the first value whose running count passes r.
        func value(atRank r: Int64) -> Double {
            var seen: Int64 = 0
            for v in sorted {
                seen += counts[v]!
                if seen > r { return Double(v) }
            }
            return Double(sorted.last!)
        }
        return fractions.map { fraction in
            let k = fraction * Double(total - 1)
            let first = k.rounded(.down), second = k.rounded(.up)
            let lo = value(atRank: Int64(first))
            let hi = second == first ? lo : value(atRank: Int64(second))
            return lo + (hi - lo) * (k - first)
        }
    }

    public func percentile(_ fraction: Double) -> Double? { percentiles([fraction])[0] }
}

import Testing
@testable import OpsActivity

/// The histogram's percentiles against percentile_cont's arithmetic over the sorted values,
/// over adds and removals (test_activity_rollup.py checks the served numbers against
/// Postgres itself).
@Suite struct DurationHistogramTests {
    /// Postgres' arithmetic over sorted values, with the fraction as percentile_cont takes it.
    static func reference(_ values: [Int64], _ fraction: Double) -> Double? {
        guard !values.isEmpty else { return nil }
        let s = values.sorted()
        let k = fraction * Double(s.count - 1)
        let lo = Double(s[Int(k.rounded(.down))]), hi = Double(s[Int(k.rounded(.up))])
        return lo + (hi - lo) * (k - k.rounded(.down))
    }

    @Test func emptyHasNoPercentile() {
        let h = DurationHistogram()
        #expect(h.percentile(0.5) == nil)
        #expect(h.percentiles([0.5, 0.95]) == [nil, nil])
    }

    @Test func interpolatesBetweenClosestRanks() {
        var h = DurationHistogram()
        for v: Int64 in [100, 200, 300, 400] { h.add(v, count: 1) }
        #expect(h.percentile(0.5) == 250)
        #expect(h.percentile(0) == 100)
        #expect(h.percentile(1) == 400)
        var ten = DurationHistogram()
        for v: Int64 in 1...10 { ten.add(v, count: 1) }
        // What Postgres answers for percentile_cont(0.95) over 1..10: 0.95·9 is 8.549999999999999
        // in binary, and the histogram does the same arithmetic.
        #expect(ten.percentile(0.95) == 9.549999999999999)
    }

    @Test func repeatedValuesCountByRank() {
        var h = DurationHistogram()
        h.add(7, count: 3)
        h.add(1000, count: 1)
        // sorted: 7 7 7 1000; k(0.5) = 1.5 → 7; k(0.95) = 2.85 → 7 + 993·0.85
        #expect(h.percentile(0.5) == 7)
        #expect(h.percentile(0.95) == Self.reference([7, 7, 7, 1000], 0.95))
        #expect(h.total == 4)
    }

    @Test func matchesSortedValuesOverRandomAddsAndRemovals() {
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<200 {
            var h = DurationHistogram()
            var values: [Int64] = []
            for _ in 0..<Int.random(in: 1...300, using: &rng) {
                let v = Int64.random(in: 0...(Bool.random(using: &rng) ? 50 : 600_000), using: &rng)
                values.append(v)
                h.add(v, count: 1)
            }
            // A run that moves out (its old contribution removed), as an update does.
            for _ in 0..<Int.random(in: 0...values.count / 2, using: &rng) {
                let v = values.remove(at: Int.random(in: 0..<values.count, using: &rng))
                h.add(v, count: -1)
            }
            #expect(h.total == Int64(values.count))
            #expect(h.isConsistent)
            for f in [0.0, 0.5, 0.95, 0.99, 1.0] {
                #expect(h.percentile(f) == Self.reference(values, f), "fraction \(f) of \(values.count) values")
            }
        }
    }

    @Test func removingWhatWasNeverAddedMarksItInconsistent() {
        var h = DurationHistogram()
        h.add(5, count: 1)
        h.add(9, count: -1)
        #expect(!h.isConsistent)
        #expect(h.percentile(0.5) == nil)
        h.add(9, count: 1)   // the missed addition arrives: consistent again
        #expect(h.isConsistent)
        #expect(h.percentile(0.5) == 5)
        #expect(h.counts[9] == nil)
    }
}

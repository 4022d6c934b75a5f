import Foundation
import OpsMonitorCore
import Testing

/// A reproducible random source (SplitMix64), so replayed traffic is the same on every run.
struct HealthTestRandom {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func uniform() -> Double { Double(next() >> 11) / Double(1 << 53) }
    /// Standard normal (Box–Muller).
    mutating func gaussian() -> Double {
        let u1 = max(uniform(), 1e-300), u2 = uniform()
        return sqrt(-2 * log(u1)) * cos(2 * .pi * u2)
    }
    /// Normal traffic: log-normal around `median` ms with spread `sigma`, plus 0–2 ms of jitter.
    mutating func latency(median: Double, sigma: Double) -> Double {
        median * exp(sigma * gaussian()) + 2 * uniform()
    }
}

@Suite struct HealthAnomalyTests {
    /// Replays normal traffic through the detector exactly as the scheduler does (baseline =
    /// the previous 60 good samples) and counts the flags.
    static func replay(_ values: [Double], linear: Bool = false) -> Int {
        var history: [Double] = []
        var flags = 0
        for x in values {
            let flagged = linear ? linearScoreFlags(x, baseline: history) : ResponseTimeAnomaly.isAnomaly(x, baseline: history)
            if flagged { flags += 1 }
            history.append(x)
            if history.count > ResponseTimeAnomaly.baselineSize { history.removeFirst() }
        }
        return flags
    }

    /// The same rule on the linear scale: (x − median) / (1.4826·MAD) > 6, x > median + 10 ms.
    static func linearScoreFlags(_ x: Double, baseline: [Double]) -> Bool {
        guard baseline.count >= 20 else { return false }
        let m = ResponseTimeAnomaly.median(baseline)
        let mad = ResponseTimeAnomaly.median(baseline.map { abs($0 - m) })
        return (x - m) / max(1.4826 * mad, 1e-9) > 6 && x > m + 10
    }

    @Test func noFalseAlarmsOnReplayedNormalTraffic() {
        // A day of 30 s checks (2,880) for each of several services: fast and steady, typical
        // web, and jittery, each with its own median.
        for (i, (median, sigma)) in [(2.0, 0.2), (20.0, 0.3), (80.0, 0.5), (250.0, 0.8)].enumerated() {
            var rng = HealthTestRandom(seed: 42 + UInt64(i))
            let traffic = (0..<2880 * 3).map { _ in rng.latency(median: median, sigma: sigma) }
            #expect(Self.replay(traffic) == 0, "median \(median) ms, sigma \(sigma)")
        }
    }

    @Test func linearScaleWouldFalseAlarmOnTheSameTraffic() {
        // Why the score is taken on the log scale: the linear rule flags normal jittery traffic.
        var rng = HealthTestRandom(seed: 7)
        let traffic = (0..<2880 * 3).map { _ in rng.latency(median: 80, sigma: 0.5) }
        #expect(Self.replay(traffic, linear: true) > 10)
        #expect(Self.replay(traffic) == 0)
    }

    @Test func flagsASpikeAgainstTheBaseline() {
        var rng = HealthTestRandom(seed: 3)
        let baseline = (0..<60).map { _ in rng.latency(median: 20, sigma: 0.2) }
        #expect(ResponseTimeAnomaly.isAnomaly(400, baseline: baseline))
        #expect(ResponseTimeAnomaly.isAnomaly(120, baseline: baseline))
        // Within the normal range or a mild slowdown: no flag.
        #expect(!ResponseTimeAnomaly.isAnomaly(30, baseline: baseline))
        #expect(!ResponseTimeAnomaly.isAnomaly(45, baseline: baseline))
        // Faster than usual is never an anomaly.
        #expect(!ResponseTimeAnomaly.isAnomaly(1, baseline: baseline))
    }

    @Test func spikeInsideReplayedTrafficIsFlaggedOnce() {
        var rng = HealthTestRandom(seed: 11)
        var traffic = (0..<500).map { _ in rng.latency(median: 20, sigma: 0.3) }
        traffic[300] = 900
        #expect(Self.replay(traffic) == 1)
    }

    @Test func noVerdictWithFewSamples() {
        let baseline = [Double](repeating: 10, count: ResponseTimeAnomaly.minimumSamples - 1)
        #expect(!ResponseTimeAnomaly.isAnomaly(10_000, baseline: baseline))
        #expect(ResponseTimeAnomaly.isAnomaly(10_000, baseline: baseline + [10]))
    }

    @Test func identicalBaselineNeedsTheAbsoluteFloor() {
        // MAD 0: the scale floor and the 10 ms floor decide.
        let baseline = [Double](repeating: 1, count: 40)
        #expect(!ResponseTimeAnomaly.isAnomaly(1.5, baseline: baseline))
        #expect(!ResponseTimeAnomaly.isAnomaly(10.9, baseline: baseline))
        #expect(ResponseTimeAnomaly.isAnomaly(12, baseline: baseline))
    }

    @Test func medianOfEvenAndOddCounts() {
        #expect(ResponseTimeAnomaly.median([3, 1, 2]) == 2)
        #expect(ResponseTimeAnomaly.median([4, 1, 2, 3]) == 2.5)
        #expect(ResponseTimeAnomaly.median([]) == 0)
    }
}

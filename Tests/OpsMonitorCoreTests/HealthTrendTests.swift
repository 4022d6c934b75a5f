import OpsMonitorCore
import Testing

@Suite struct HealthHistoryTests {
    static func samples(from start: Double, every step: Double, _ items: [(Bool, Double?)]) -> [ProbeSample] {
        items.enumerated().map { ProbeSample(time: start + Double($0.offset) * step, ok: $0.element.0, responseMillis: $0.element.1) }
    }

    @Test func errorCountCoversTheLastHour() {
        var h = ServiceHistory.forInterval(60)
        // A failure 2 h ago, then 100 minutes of minute checks with failures at 30 and 5 minutes ago.
        h.append(ProbeSample(time: 0, ok: false, responseMillis: nil))
        for m in 20...120 {
            let failed = m == 90 || m == 115
            h.append(ProbeSample(time: Double(m) * 60, ok: !failed, responseMillis: failed ? nil : 10))
        }
        #expect(h.errorCount(now: 120 * 60) == 2)
        #expect(h.consecutiveFailures == 0)
        // Old samples go once the hour and the baseline are covered.
        #expect(h.samples.first!.time > 0)
    }

    @Test func consecutiveFailuresCountAndReset() {
        var h = ServiceHistory.forInterval(10)
        for t in 0..<3 { h.append(ProbeSample(time: Double(t), ok: false, responseMillis: nil)) }
        #expect(h.consecutiveFailures == 3)
        h.append(ProbeSample(time: 4, ok: true, responseMillis: 5))
        #expect(h.consecutiveFailures == 0)
        var restored = ServiceHistory.forInterval(10)
        restored.load([ProbeSample(time: 2, ok: false, responseMillis: nil), ProbeSample(time: 1, ok: false, responseMillis: nil),
                       ProbeSample(time: 0, ok: true, responseMillis: 3)])
        #expect(restored.consecutiveFailures == 2)
        #expect(restored.samples.map(\.time) == [0, 1, 2])
    }

    @Test func baselineExcludesTheNewestAndFailedSamples() {
        var h = ServiceHistory.forInterval(10)
        for t in 0..<70 { h.append(ProbeSample(time: Double(t), ok: t % 10 != 5, responseMillis: t % 10 == 5 ? nil : Double(t))) }
        let b = h.baseline()
        #expect(b.count == 60)
        #expect(b.last == 68)      // 69 is the sample being judged
        #expect(!b.contains(65))   // failed samples have no response time
    }
}

@Suite struct HealthTrendTests {
    static func window(_ n: Int, failures: Int, ms: Double, start: Double, step: Double) -> [ProbeSample] {
        (0..<n).map { ProbeSample(time: start + Double($0) * step, ok: $0 >= failures, responseMillis: $0 >= failures ? ms : nil) }
    }

    @Test func failureRateDecidesFirst() {
        let prev = Self.window(10, failures: 0, ms: 20, start: 0, step: 60)
        let last = Self.window(10, failures: 3, ms: 20, start: 900, step: 60)
        #expect(HealthTrendDetector.compare(last: last, previous: prev) == .degrading)
        #expect(HealthTrendDetector.compare(last: prev, previous: last) == .improving)
        // Within the 10-point dead band: stable.
        let oneFailure = Self.window(20, failures: 1, ms: 20, start: 900, step: 30)
        #expect(HealthTrendDetector.compare(last: oneFailure, previous: Self.window(20, failures: 0, ms: 20, start: 0, step: 30)) == .stable)
    }

    @Test func responseTimeWithDeadBand() {
        let prev = Self.window(10, failures: 0, ms: 100, start: 0, step: 60)
        #expect(HealthTrendDetector.compare(last: Self.window(10, failures: 0, ms: 150, start: 900, step: 60), previous: prev) == .degrading)
        #expect(HealthTrendDetector.compare(last: Self.window(10, failures: 0, ms: 60, start: 900, step: 60), previous: prev) == .improving)
        #expect(HealthTrendDetector.compare(last: Self.window(10, failures: 0, ms: 115, start: 900, step: 60), previous: prev) == .stable)
        // Fast services: a 3 ms change is under the 5 ms floor even though it is 100 %.
        let fast = Self.window(10, failures: 0, ms: 3, start: 0, step: 60)
        #expect(HealthTrendDetector.compare(last: Self.window(10, failures: 0, ms: 6, start: 900, step: 60), previous: fast) == .stable)
    }

    @Test func tooFewSamplesIsStable() {
        let prev = Self.window(2, failures: 0, ms: 10, start: 0, step: 60)
        #expect(HealthTrendDetector.compare(last: Self.window(10, failures: 10, ms: 0, start: 900, step: 60), previous: prev) == .stable)
    }

    @Test func windowsByTime() {
        // 30 s checks: the window is 15 minutes; 30 samples each.
        #expect(HealthTrendDetector.windowSeconds(interval: 30) == 900)
        #expect(HealthTrendDetector.windowSeconds(interval: 600) == 3000)
        var samples = Self.window(30, failures: 0, ms: 50, start: 0, step: 30)
        samples += Self.window(30, failures: 0, ms: 200, start: 900, step: 30)
        #expect(HealthTrendDetector.trend(samples, now: 1799, interval: 30) == .degrading)
        // Half an hour later the slow window is the previous one and the new one is empty.
        #expect(HealthTrendDetector.trend(samples, now: 3600, interval: 30) == .stable)
    }
}

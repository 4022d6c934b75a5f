import Testing
@testable import OpsActivity

/// The byte-built ISO 8601 text against the interpolated rules it replaced, and against
/// parsing it back, over random instants from 1970 to 9999 at every precision.
@Suite struct UTCTimeFormatTests {
    static func reference(_ t: UTCTime, _ fractionDigits: Int) -> String {
        func pad(_ v: Int64, _ width: Int) -> String {
            let s = String(v)
            return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
        }
        let s = t.seconds
        let days = s >= 0 ? s / 86_400 : -((-s + 86_399) / 86_400)
        let (y, m, d) = UTCTime.civilFromDays(days)
        let rem = s - days * 86_400
        var out = "\(pad(y, 4))-\(pad(m, 2))-\(pad(d, 2))T\(pad(rem / 3600, 2)):\(pad(rem % 3600 / 60, 2)):\(pad(rem % 60, 2))"
        var frac = t.micros - s * 1_000_000
        for _ in fractionDigits..<6 { frac /= 10 }
        if frac != 0 { out += "." + pad(frac, fractionDigits) }
        return out + "Z"
    }

    @Test func matchesTheReferenceAndRoundTrips() throws {
        var rng = SystemRandomNumberGenerator()
        let edges: [Int64] = [0, 999_999, 1_000_000, 86_399_999_999, 951_782_400_000_000, 253_402_300_799_999_999]
        let randoms = (0..<3_000).map { _ in Int64.random(in: 0...253_402_300_799_999_999, using: &rng) }
        for micros in edges + randoms {
            let t = UTCTime(micros: micros)
            for digits in 0...6 {
                #expect(t.iso8601(fractionDigits: digits) == Self.reference(t, digits), "micros \(micros), \(digits) digits")
            }
            #expect(try UTCTime.parse(t.iso8601Micros) == t, "micros \(micros)")
        }
    }
}

@Suite struct UTCTimeTests {
    @Test func parsesZuluAndOffsets() throws {
        #expect(try UTCTime.parse("2026-11-22T03:01:00Z").iso8601 == "2026-11-22T03:01:00Z")
        #expect(try UTCTime.parse("2026-11-22T05:01:00+02:00").iso8601 == "2026-11-22T03:01:00Z")
        #expect(try UTCTime.parse("2026-11-21T22:31:00-04:30").iso8601 == "2026-11-22T03:01:00Z")
        #expect(try UTCTime.parse("2026-11-22 03:01:00.250z").iso8601 == "2026-11-22T03:01:00.250Z")
    }

    @Test func keepsMicrosecondsAndPrintsMilliseconds() throws {
        let t = try UTCTime.parse("2026-11-22T03:01:00.123456789Z")
        #expect(t.micros % 1_000_000 == 123_456)
        #expect(t.iso8601 == "2026-11-22T03:01:00.123Z")
        #expect(t.iso8601Micros == "2026-11-22T03:01:00.123456Z")
    }

    @Test func matchesKnownEpochs() throws {
        #expect(try UTCTime.parse("1970-01-01T00:00:00Z").micros == 0)
        #expect(try UTCTime.parse("2000-03-01T00:00:00Z").seconds == 951_868_800)
        #expect(try UTCTime.parse("2024-02-29T12:00:00Z").seconds == 1_709_208_000)
    }

    @Test func refusesMissingOffset() {
        #expect(throws: UTCTime.ParseError.missingOffset) { try UTCTime.parse("2026-11-22T03:01:00") }
        #expect(throws: UTCTime.ParseError.missingOffset) { try UTCTime.parse("2026-11-22T03:01:00.5") }
    }

    @Test(arguments: ["", "yesterday", "2026-11-22", "2026-13-01T00:00:00Z", "2026-02-30T00:00:00Z", "2026-11-22T24:00:00Z",
                      "2026-11-22T03:01:00+2", "2026-11-22T03:01:00Zjunk", "2026/11/22T03:01:00Z", "2025-02-29T00:00:00Z"])
    func refusesMalformed(_ s: String) {
        #expect(throws: UTCTime.ParseError.self) { try UTCTime.parse(s) }
    }

    @Test func dayAndHourBoundaries() throws {
        let t = try UTCTime.parse("2026-11-22T23:30:00Z")
        #expect(t.startOfDay.iso8601 == "2026-11-22T00:00:00Z")
        #expect(t.startOfHour.iso8601 == "2026-11-22T23:00:00Z")
        #expect(t.hourLabel == "23:00Z")
        #expect(t.dateString == "2026-11-22")
    }
}

@Suite struct PercentileTests {
    @Test func interpolatesBetweenClosestRanks() {
        #expect(Percentile.of([100, 200, 300, 400], 50) == 250)
        #expect(Percentile.of([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 95) == 9.55)
        #expect(Percentile.of([4, 1, 3, 2], 0) == 1)
        #expect(Percentile.of([4, 1, 3, 2], 100) == 4)
    }

    @Test func singleValueAndEmpty() {
        #expect(Percentile.of([42], 95) == 42)
        #expect(Percentile.of([], 50) == nil)
    }
}

@Suite struct WindowTests {
    let now = try! UTCTime.parse("2026-11-22T10:15:00Z")

    @Test func todayIsTheUTCCalendarDay() {
        let (s, e) = SeriesWindow.today.bounds(now: now)
        #expect(s.iso8601 == "2026-11-22T00:00:00Z")
        #expect(e.iso8601 == "2026-11-23T00:00:00Z")
    }

    @Test func sevenAndThirtyDaysEndToday() {
        #expect(SeriesWindow.d7.bounds(now: now).start.iso8601 == "2026-11-16T00:00:00Z")
        #expect(SeriesWindow.d30.bounds(now: now).start.iso8601 == "2026-10-24T00:00:00Z")
        #expect(SeriesWindow.d30.buckets(now: now).count == 30)
    }

    @Test func todaySeriesHas24ZeroFilledHours() throws {
        let ten = try UTCTime.parse("2026-11-22T10:00:00Z").seconds
        let points = ZeroFill.series(window: .today, now: now, values: [ten: 7, 0: 99])
        #expect(points.count == 24)
        #expect(points.first?.label == "00:00Z")
        #expect(points.last?.label == "23:00Z")
        #expect(points[10] == SeriesPoint(label: "10:00Z", value: 7))
        #expect(points.filter { $0.value != 0 }.count == 1, "a value outside the window must be ignored")
    }

    @Test func dailySeriesIsLabelledByDate() {
        let points = ZeroFill.series(window: .d7, now: now, values: [:])
        #expect(points.map(\.label) == ["2026-11-16", "2026-11-17", "2026-11-18", "2026-11-19", "2026-11-20", "2026-11-21", "2026-11-22"])
        #expect(points.allSatisfy { $0.value == 0 })
    }
}

@Suite struct BudgetTests {
    @Test func percentIsNullWhenDisabledAndMayExceed100() {
        #expect(BudgetGauge(limitCents: 0, usedUSD: 5).percent == nil)
        #expect(BudgetGauge(limitCents: 100, usedUSD: 0.5).percent == 50)
        #expect(BudgetGauge(limitCents: 100, usedUSD: 2.5).percent == 250)
    }

    @Test func denyAtOrAbove100WarnAt80() {
        let ok = BudgetGauge(limitCents: 0, usedUSD: 0)
        #expect(BudgetDecision.decide(user: BudgetGauge(limitCents: 100, usedUSD: 1.0), global: ok, runsUsed: 0, runsLimit: 0,
                                      isAdmin: false) == BudgetDecision(allowed: false, level: .denied, reason: "user_budget"))
        #expect(BudgetDecision.decide(user: BudgetGauge(limitCents: 100, usedUSD: 0.8), global: ok, runsUsed: 0, runsLimit: 0,
                                      isAdmin: false).level == .warning)
        #expect(BudgetDecision.decide(user: BudgetGauge(limitCents: 100, usedUSD: 0.79), global: ok, runsUsed: 0, runsLimit: 0,
                                      isAdmin: false).level == .ok)
    }

    @Test func globalAndRunCapsDeny() {
        let ok = BudgetGauge(limitCents: 0, usedUSD: 0)
        #expect(BudgetDecision.decide(user: ok, global: BudgetGauge(limitCents: 1000, usedUSD: 10), runsUsed: 0, runsLimit: 0,
                                      isAdmin: false).reason == "global_budget")
        #expect(BudgetDecision.decide(user: ok, global: ok, runsUsed: 3, runsLimit: 3, isAdmin: false).reason == "user_runs")
        #expect(BudgetDecision.decide(user: ok, global: ok, runsUsed: 2, runsLimit: 3, isAdmin: false).allowed)
    }

    @Test func adminsAreExempt() {
        let over = BudgetGauge(limitCents: 100, usedUSD: 5)
        let d = BudgetDecision.decide(user: over, global: over, runsUsed: 99, runsLimit: 3, isAdmin: true)
        #expect(d.allowed)
        #expect(d.level == .warning)
    }
}

@Suite struct CachePolicyTests {
    let policy = CachePolicy(maxAgeMillis: 2000, cheapMillis: 25)

    @Test func noCacheMeansCompute() {
        #expect(policy.decide(nil, currentVersion: 1) == .recompute)
    }

    @Test func unchangedDataIsServedUntilMaxAge() {
        #expect(policy.decide(.init(dataVersion: 5, ageMillis: 1999, computeMillis: 900), currentVersion: 5) == .serveCached)
        #expect(policy.decide(.init(dataVersion: 5, ageMillis: 2000, computeMillis: 1), currentVersion: 5) == .recompute)
    }

    @Test func changedDataIsRecomputedWhenCheapElseAfterMaxAge() {
        #expect(policy.decide(.init(dataVersion: 5, ageMillis: 10, computeMillis: 3), currentVersion: 6) == .recompute)
        #expect(policy.decide(.init(dataVersion: 5, ageMillis: 10, computeMillis: 800), currentVersion: 6) == .serveCached)
        #expect(policy.decide(.init(dataVersion: 5, ageMillis: 2500, computeMillis: 800), currentVersion: 6) == .recompute)
    }

    @Test func refresherRecomputesChangedDataOnceItIsAsOldAsItsComputation() {
        // A quick answer: at once, in practice (the refresher's round takes longer).
        #expect(policy.refreshDue(.init(dataVersion: 5, ageMillis: 30, computeMillis: 30), currentVersion: 6))
        #expect(!policy.refreshDue(.init(dataVersion: 5, ageMillis: 29, computeMillis: 30), currentVersion: 6))
        // A slow one (2.5 s) waits as long as it took: at most half of a refresher's time.
        #expect(!policy.refreshDue(.init(dataVersion: 5, ageMillis: 2499, computeMillis: 2500), currentVersion: 6))
        #expect(policy.refreshDue(.init(dataVersion: 5, ageMillis: 2500, computeMillis: 2500), currentVersion: 6))
        // ...also without a rolling window.
        #expect(!policy.refreshDue(.init(dataVersion: 5, ageMillis: 2499, computeMillis: 2500), currentVersion: 6, rolling: false))
    }

    @Test func refresherWaitsOnUnchangedDataForThreeQuartersOfMaxAge() {
        // A quick answer: 3/4 of the 2 s maximum age, as before.
        #expect(!policy.refreshDue(.init(dataVersion: 5, ageMillis: 1499, computeMillis: 30), currentVersion: 5))
        #expect(policy.refreshDue(.init(dataVersion: 5, ageMillis: 1500, computeMillis: 30), currentVersion: 5))
    }

    @Test func refresherWaitsOnUnchangedDataForTwiceItsComputationAtMostTenSeconds() {
        // The summary at 1M runs (2.5 s): not again until 5 s after the last one ended.
        #expect(!policy.refreshDue(.init(dataVersion: 5, ageMillis: 4999, computeMillis: 2500), currentVersion: 5))
        #expect(policy.refreshDue(.init(dataVersion: 5, ageMillis: 5000, computeMillis: 2500), currentVersion: 5))
        // A saturated host (20 s computations): still every 10 s, inside the request path's 30 s.
        #expect(!policy.refreshDue(.init(dataVersion: 5, ageMillis: 9999, computeMillis: 20_000), currentVersion: 5))
        #expect(policy.refreshDue(.init(dataVersion: 5, ageMillis: 10_000, computeMillis: 20_000), currentVersion: 5))
    }

    @Test func anAnswerWithoutARollingWindowIsExactAtAnyAgeWhileDataIsUnchanged() {
        let old = CachePolicy.Cached(dataVersion: 5, ageMillis: 3_600_000, computeMillis: 900)
        #expect(!policy.refreshDue(old, currentVersion: 5, rolling: false))
        #expect(policy.decide(old, currentVersion: 5, rolling: false) == .serveCached)
        // ...and is recomputed as soon as the data changed, like any other.
        #expect(policy.refreshDue(old, currentVersion: 6, rolling: false))
        let cheap = CachePolicy.Cached(dataVersion: 5, ageMillis: 10, computeMillis: 3)
        #expect(policy.decide(cheap, currentVersion: 6, rolling: false) == .recompute)
        // With a rolling window ("errors in the last hour") age still counts.
        #expect(policy.refreshDue(old, currentVersion: 5, rolling: true))
        #expect(policy.decide(old, currentVersion: 5, rolling: true) == .recompute)
    }
}

import OpsJSON
import OpsMonitorCore
import Testing

@Suite struct DigestMessageTests {
    let report = DigestReport(
        day: "2030-01-01",
        totals: .init(runs: 12, costUSD: 3.5, errors: 2, p95Millis: 1234.4),
        average7d: .init(runs: 8, costUSD: 2, errors: 4, p95Millis: 1000),
        topAgents: [.init(agentID: "a1", name: "Summariser", runs: 7, costUSD: 1.25, averageRuns7d: 3.5),
                    .init(agentID: "a2", name: nil, runs: 5, costUSD: nil, averageRuns7d: 0)],
        openAlerts: 3, openBySeverity: [.critical: 1, .warning: 2],
        alerts: [.init(id: 9, severity: .critical, title: "db is down", service: "db", state: "acknowledged")])

    @Test func showsTheDayAgainstTheWeek() throws {
        let m = DigestMessage.message(report, outboxID: 5, dashboardURL: "https://ops.example/")
        #expect(m.rowIDs == [5] && m.isWithinLimits && m.embeds.count == 1)
        let e = m.embeds[0]
        #expect(e.title == "Daily digest · 2030-01-01 (UTC)")
        #expect(e.description.contains("**Runs:** 12 (7-day average 8/day, +50 %)"))
        #expect(e.description.contains("**Cost:** $3.50 (7-day average $2.00/day, +75 %)"))
        #expect(e.description.contains("**Errors:** 2 failed runs (7-day average 4/day, -50 %)"))
        #expect(e.description.contains("**p95 duration:** 1234 ms (previous 7 days 1000 ms)"))
        #expect(e.description.contains("**Open alerts:** 3 (1 critical, 2 warning)"))
        #expect(e.fields[0].name == "1. Summariser (a1)" && e.fields[0].value == "7 runs (7-day average 3.5/day, +100 %) · $1.25")
        #expect(e.fields[1].value == "5 runs (7-day average 0/day, new) · n/a")
        #expect(e.fields[2].name == "Open alerts" && e.fields[2].value.contains("#9 db is down (db) · acknowledged")
                && e.fields[2].value.contains("… and 2 more"))
        #expect(e.url == "https://ops.example/")
    }

    @Test func payloadRoundTrip() {
        #expect(DigestReport(json: report.json) == report)
        #expect(DigestReport(json: ["type": "other"]) == nil)
    }

    @Test func anEnormousDigestStaysWithinTheLimits() {
        var big = report
        big.topAgents = (0..<40).map { .init(agentID: String(repeating: "a", count: 300) + "\($0)", name: String(repeating: "n", count: 300),
                                              runs: 1, costUSD: 1, averageRuns7d: 1) }
        big.alerts = (0..<10).map { .init(id: Int64($0), severity: .warning, title: String(repeating: "t", count: 900), service: nil, state: "firing") }
        let m = DigestMessage.message(big, outboxID: 1, dashboardURL: "https://ops.example/")
        #expect(m.isWithinLimits)
        #expect(m.embeds[0].characterCount <= DiscordLimits.embedCharactersPerMessage)
    }

    @Test func emptyDay() {
        let empty = DigestReport(day: "2030-01-02", totals: .init(runs: 0, costUSD: nil, errors: 0, p95Millis: nil),
                                 average7d: .init(runs: 0, costUSD: nil, errors: 0, p95Millis: nil), topAgents: [], openAlerts: 0,
                                 openBySeverity: [:], alerts: [])
        let e = DigestMessage.message(empty, outboxID: 1, dashboardURL: "").embeds[0]
        #expect(e.description.contains("**Runs:** 0 (7-day average 0/day, ±0 %)"))
        #expect(e.description.contains("**Cost:** n/a"))
        #expect(e.description.contains("**Open alerts:** 0\n") || e.description.hasSuffix("**Open alerts:** 0"))
        #expect(e.fields.map(\.value) == ["No runs that day."])
    }
}

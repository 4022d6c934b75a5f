/// The digest as one Discord message (one row, one request: a partial send can never repeat
/// half a digest). Everything is cut to the limits with the visible marker.
public enum DigestMessage {
    public static func message(_ report: DigestReport, outboxID: Int64, dashboardURL: String) -> DiscordMessage {
        let t = report.totals, a = report.average7d
        var lines = [
            "**Runs:** \(fmtCount(t.runs)) (7-day average \(fmt1(a.runs))/day, \(change(t.runs, a.runs)))",
            "**Cost:** \(usd(t.costUSD)) (7-day average \(usd(a.costUSD))/day, \(change(t.costUSD, a.costUSD)))",
            "**Errors:** \(fmtCount(t.errors)) failed runs (7-day average \(fmt1(a.errors))/day, \(change(t.errors, a.errors)))",
            "**p95 duration:** \(ms(t.p95Millis)) (previous 7 days \(ms(a.p95Millis)))",
        ]
        let by = AlertSeverity.allCases.reversed().compactMap { s -> String? in
            let n = report.openBySeverity[s] ?? 0
            return n > 0 ? "\(n) \(s.rawValue)" : nil
        }
        lines.append("**Open alerts:** \(report.openAlerts)\(by.isEmpty ? "" : " (\(by.joined(separator: ", ")))")")
        if !dashboardURL.isEmpty { lines.append("[Open the dashboard](\(dashboardURL))") }

        var fields: [DiscordEmbed.Field] = []
        for (i, agent) in report.topAgents.enumerated() {
            let name = agent.name.map { "\($0) (\(agent.agentID))" } ?? agent.agentID
            fields.append(DiscordEmbed.Field("\(i + 1). \(name)",
                "\(agent.runs) runs (7-day average \(fmt1(agent.averageRuns7d))/day, \(change(Double(agent.runs), agent.averageRuns7d))) · \(usd(agent.costUSD))",
                inline: false))
        }
        if report.topAgents.isEmpty { fields.append(DiscordEmbed.Field("Top agents", "No runs that day.", inline: false)) }
        if !report.alerts.isEmpty {
            var list = report.alerts.map { al in
                "• [\(al.severity.rawValue)] #\(al.id) \(al.title)\(al.service.map { " (\($0))" } ?? "")\(al.state == "acknowledged" ? " · acknowledged" : "")"
            }
            let more = report.openAlerts - Int64(report.alerts.count)
            if more > 0 { list.append("… and \(more) more") }
            fields.append(DiscordEmbed.Field("Open alerts", list.joined(separator: "\n"), inline: false))
        }
        let embed = DiscordEmbed(title: "Daily digest · \(report.day) (UTC)", description: lines.joined(separator: "\n"),
                                 url: dashboardURL.isEmpty ? nil : dashboardURL, color: 0x5865F2, fields: fields,
                                 footer: "Opsplane daily digest").fitting(DiscordLimits.embedCharactersPerMessage)
        return DiscordMessage(rowIDs: [outboxID], content: "📊 Opsplane daily digest for \(report.day) (UTC)", embeds: [embed])
    }

    static func fmt1(_ v: Double) -> String { AlertRuleEvaluator.fmt(v, digits: 1) }
    static func fmtCount(_ v: Double) -> String { AlertRuleEvaluator.fmt(v, digits: 0) }

    static func usd(_ v: Double?) -> String {
        guard let v else { return "n/a" }
        let cents = (v * 100).rounded()
        let whole = Int64(cents) / 100, frac = Int64(cents) % 100
        return "$\(whole).\(frac < 10 ? "0" : "")\(frac)"
    }

    static func ms(_ v: Double?) -> String { v.map { "\(AlertRuleEvaluator.fmt($0, digits: 0)) ms" } ?? "n/a" }

    /// "+12.5 %" against the average; "new" when the average is zero and the day is not.
    static func change(_ value: Double?, _ average: Double?) -> String {
        guard let value, let average else { return "n/a" }
        if average == 0 { return value == 0 ? "±0 %" : "new" }
        let pct = (value - average) / average * 100
        let s = AlertRuleEvaluator.fmt(pct, digits: 1)
        return pct > 0 ? "+\(s) %" : pct == 0 ? "±0 %" : "\(s) %"
    }
}

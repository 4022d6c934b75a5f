import OpsActivity
import OpsMonitorCore
import OpsPostgres

/// The digest's figures for one UTC day, read with the summary's definitions (runs by start
/// time; cost, errors and p95 duration by finish time), against the 7 days before it.
struct DigestQueries {
    let db: PGConnection
    static let topAgents = 5
    static let listedAlerts = 10

    func report(day: UTCTime) throws -> DigestReport {
        let d0 = day.startOfDay, d1 = d0.adding(seconds: 86_400), w0 = d0.adding(seconds: -7 * 86_400)
        let today = try totals(d0, d1)
        let week = try totals(w0, d0)
        let average = DigestReport.Totals(runs: week.runs / 7, costUSD: week.costUSD.map { $0 / 7 }, errors: week.errors / 7,
                                          p95Millis: week.p95Millis)
        let agents = try db.query("""
            WITH t AS (
                SELECT agent_id, count(*) AS runs, sum(cost_usd) AS cost FROM ops.runs
                WHERE started_at >= $1 AND started_at < $2 GROUP BY agent_id ORDER BY runs DESC, agent_id LIMIT $4
            )
            , w AS (  -- one pass over the week in runs_started (it INCLUDEs agent_id)
                SELECT r.agent_id, count(*) AS runs FROM ops.runs r
                WHERE r.started_at >= $3 AND r.started_at < $1 AND r.agent_id IN (SELECT agent_id FROM t)
                GROUP BY r.agent_id
            )
            SELECT t.agent_id, a.name, t.runs, t.cost, coalesce(w.runs, 0)
            FROM t LEFT JOIN ops.agents a ON a.agent_id = t.agent_id LEFT JOIN w ON w.agent_id = t.agent_id
            ORDER BY t.runs DESC, t.agent_id
            """, [d0.sql, d1.sql, w0.sql, String(Self.topAgents)])
        let top = (0..<agents.rowCount).map { i in
            DigestReport.Agent(agentID: agents.string(i, 0) ?? "", name: agents.string(i, 1), runs: agents.int(i, 2) ?? 0,
                               costUSD: agents.double(i, 3), averageRuns7d: Double(agents.int(i, 4) ?? 0) / 7)
        }
        let counts = try db.query("SELECT severity, count(*) FROM ops.alerts WHERE state IN ('firing', 'acknowledged') GROUP BY severity")
        var bySeverity: [AlertSeverity: Int64] = [:]
        var open: Int64 = 0
        for i in 0..<counts.rowCount {
            let n = counts.int(i, 1) ?? 0
            open += n
            if let s = counts.string(i, 0).flatMap(AlertSeverity.init(rawValue:)) { bySeverity[s] = n }
        }
        let list = try db.query("""
            SELECT id, severity, title, service, state FROM ops.alerts WHERE state IN ('firing', 'acknowledged')
            ORDER BY CASE severity WHEN 'critical' THEN 0 WHEN 'warning' THEN 1 ELSE 2 END, last_fired_at DESC, id DESC LIMIT $1
            """, [String(Self.listedAlerts)])
        let alerts = (0..<list.rowCount).map { i in
            DigestReport.Alert(id: list.int(i, 0) ?? 0, severity: list.string(i, 1).flatMap(AlertSeverity.init(rawValue:)) ?? .warning,
                               title: list.string(i, 2) ?? "", service: list.string(i, 3), state: list.string(i, 4) ?? "firing")
        }
        return DigestReport(day: d0.dateString, totals: today, average7d: average, topAgents: top, openAlerts: open,
                            openBySeverity: bySeverity, alerts: alerts)
    }

    func totals(_ start: UTCTime, _ end: UTCTime) throws -> DigestReport.Totals {
        let r = try db.query("""
            SELECT (SELECT count(*) FROM ops.runs WHERE started_at >= $1 AND started_at < $2),
                   f.cost, f.errors, f.p95
            FROM (SELECT sum(cost_usd) AS cost, count(*) FILTER (WHERE status = 'failed') AS errors,
                         percentile_cont(0.95) WITHIN GROUP (ORDER BY duration_ms) FILTER (WHERE status = 'success') AS p95
                  FROM ops.runs WHERE finished_at >= $1 AND finished_at < $2) f
            """, [start.sql, end.sql])
        return DigestReport.Totals(runs: Double(r.int(0, 0) ?? 0), costUSD: r.double(0, 1), errors: Double(r.int(0, 2) ?? 0),
                                   p95Millis: r.double(0, 3))
    }
}

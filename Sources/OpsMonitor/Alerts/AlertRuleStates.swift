import OpsMonitorCore
import OpsPostgres

/// ops.alert_rule_state: each key's hysteresis, so that a standby monitor that takes over
/// continues counting where the active one stopped.
struct AlertRuleStates {
    let db: PGConnection

    func load(rules: [String]) throws -> [AlertRuleStateRow] {
        let r = try db.query("""
            SELECT key, rule, recent, successes, alert_id, last_sample FROM ops.alert_rule_state WHERE rule = ANY($1::text[])
            """, [AlertInputsLoader.textArray(rules)])
        return (0..<r.rowCount).map { i in
            AlertRuleStateRow(key: r.string(i, 0) ?? "", rule: r.string(i, 1) ?? "", recent: r.string(i, 2) ?? "",
                              successes: Int(r.int(i, 3) ?? 0), alertID: r.int(i, 4), lastSample: r.string(i, 5))
        }
    }

    func save(_ s: AlertRuleStateRow) throws {
        try db.query("""
            INSERT INTO ops.alert_rule_state (key, rule, recent, successes, alert_id, last_sample, updated_at)
            VALUES ($1, $2, $3, $4, $5, $6, now())
            ON CONFLICT (key) DO UPDATE SET rule = EXCLUDED.rule, recent = EXCLUDED.recent, successes = EXCLUDED.successes,
                alert_id = EXCLUDED.alert_id, last_sample = EXCLUDED.last_sample, updated_at = now()
            """, [s.key, s.rule, s.recent, String(s.successes), s.alertID.map(String.init), s.lastSample])
    }

    func delete(key: String) throws {
        try db.query("DELETE FROM ops.alert_rule_state WHERE key = $1", [key])
    }

    /// Open alerts of these rules (raised by any monitor or by the budget check).
    func openAlerts(rules: [String]) throws -> [OpenAlert] {
        let r = try db.query("""
            SELECT id, rule, dedupe_key, severity FROM ops.alerts
            WHERE state IN ('firing', 'acknowledged') AND rule = ANY($1::text[])
            """, [AlertInputsLoader.textArray(rules)])
        return (0..<r.rowCount).map { i in
            OpenAlert(id: r.int(i, 0) ?? 0, rule: r.string(i, 1) ?? "", key: r.string(i, 2) ?? "",
                      severity: r.string(i, 3).flatMap(AlertSeverity.init(rawValue:)) ?? .warning)
        }
    }
}

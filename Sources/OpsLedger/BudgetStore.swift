import OpsActivity
import OpsJSON
import OpsPostgres

/// The numbers the budget guard needs for one user today.
public struct BudgetUsage: Equatable, Sendable {
    public let userSpentUSD: Double
    public let userRunsToday: Int64
    public let globalSpentUSD: Double
}

public struct BudgetStore {
    let db: PGConnection
    let cache: AnswerCache

    public init(connection: PGConnection, cache: AnswerCache) {
        self.db = connection
        self.cache = cache
    }

    /// Per-user figures are exact (an index range on user_id); the global spend goes through
    /// the answer cache, so on a busy day it may lag by the cache's maximum age.
    public func usage(userID: String, now: UTCTime) throws -> BudgetUsage {
        let (d0, d1) = SeriesWindow.today.bounds(now: now)
        let user = try db.query("""
            SELECT coalesce((SELECT sum(cost_usd) FROM ops.runs WHERE user_id = $1 AND finished_at >= $2 AND finished_at < $3), 0),
                   (SELECT count(*) FROM ops.runs WHERE user_id = $1 AND started_at >= $2 AND started_at < $3)
            """, [userID, d0.sql, d1.sql])
        let global = try cache.answer(.globalSpend(date: d0.dateString), now: now)
        return BudgetUsage(userSpentUSD: user.double(0, 0) ?? 0, userRunsToday: user.int(0, 1) ?? 0,
                           globalSpentUSD: Double(global) ?? 0)
    }
}

/// Alerts with de-bouncing: an identical alert (same dedupe key) that fired less than 10
/// minutes ago and is not resolved is counted on its existing row instead of a new one.
public struct AlertStore {
    public static let debounceSeconds = 600
    let db: PGConnection

    public init(connection: PGConnection) { self.db = connection }

    /// Returns the alert id and whether it is new (a new alert publishes `alert_fired`).
    @discardableResult
    public func fire(rule: String, severity: String, dedupeKey: String, title: String, detail: JSON) throws -> (id: Int64, isNew: Bool) {
        try db.transaction {
            // Serialises concurrent fires of one key without a unique index on open alerts.
            try db.query("SELECT pg_advisory_xact_lock(hashtext($1))", [dedupeKey])
            let existing = try db.query("""
                UPDATE ops.alerts SET last_fired_at = now(), fire_count = fire_count + 1, detail = $2::jsonb
                WHERE id = (SELECT id FROM ops.alerts WHERE dedupe_key = $1 AND state <> 'resolved'
                            AND last_fired_at > now() - make_interval(secs => $3::double precision)
                            ORDER BY last_fired_at DESC LIMIT 1)
                RETURNING id
                """, [dedupeKey, detail.serialized(), String(Self.debounceSeconds)])
            if existing.rowCount == 1 { return (existing.int(0, 0)!, false) }
            let r = try db.query("""
                INSERT INTO ops.alerts (rule, severity, dedupe_key, title, detail) VALUES ($1, $2, $3, $4, $5::jsonb)
                RETURNING id
                """, [rule, severity, dedupeKey, title, detail.serialized()])
            let id = r.int(0, 0)!
            try EventLog(connection: db).append([("alert_fired", ["type": "alert_fired", "alert_id": .int(id), "rule": .string(rule),
                                                                  "severity": .string(severity), "title": .string(title)])])
            return (id, true)
        }
    }
}

/// What retention deletes, and after how long: raw series after a few days (their rollups
/// stay), everything else after OPS_RETENTION_DAYS. Each rule is a table, the time column it
/// is deleted by and an optional extra condition (constant SQL, never input).
public struct RetentionRule: Sendable, Equatable {
    public var table: String
    public var timeColumn: String
    public var condition: String?
    public var maxAgeSeconds: Double
    /// A table of the activity ledger: rows deleted from it change cached answers (the
    /// monitor then bumps ops.data_version, as ingest does for new rows).
    public var isLedger: Bool

    public init(table: String, timeColumn: String, condition: String? = nil, maxAgeSeconds: Double,
                isLedger: Bool = false) {
        self.table = table
        self.timeColumn = timeColumn
        self.condition = condition
        self.maxAgeSeconds = maxAgeSeconds
        self.isLedger = isLedger
    }

    /// One batch: the rows' ctids first (LIMIT), so a huge backlog is deleted in bounded
    /// statements that do not hold locks or bloat WAL for minutes. $1 = cutoff, $2 = batch size.
    public var batchDeleteSQL: String {
        let extra = condition.map { " AND (\($0))" } ?? ""
        return """
            DELETE FROM \(table) WHERE ctid = ANY (ARRAY(
                SELECT ctid FROM \(table) WHERE \(timeColumn) < $1\(extra) LIMIT $2))
            """
    }
}

public enum RetentionPlan {
    public static let day = 86_400.0
    public static let batchSize = 10_000

    public static func rules(retentionDays: Int) -> [RetentionRule] {
        let keep = Double(max(1, retentionDays)) * day
        return [
            // Raw series: their rollups keep the history.
            RetentionRule(table: "ops.probe_samples", timeColumn: "ts", maxAgeSeconds: 7 * day),
            RetentionRule(table: "ops.api_minutes", timeColumn: "minute", maxAgeSeconds: 2 * day),
            RetentionRule(table: "ops.capacity_samples", timeColumn: "ts", maxAgeSeconds: 7 * day),
            // Everything else: OPS_RETENTION_DAYS.
            RetentionRule(table: "ops.probe_rollups", timeColumn: "bucket", maxAgeSeconds: keep),
            RetentionRule(table: "ops.api_rollups", timeColumn: "bucket", maxAgeSeconds: keep),
            RetentionRule(table: "ops.system_errors", timeColumn: "ts", maxAgeSeconds: keep),
            RetentionRule(table: "ops.heartbeat_samples", timeColumn: "ts", maxAgeSeconds: keep),
            RetentionRule(table: "ops.events", timeColumn: "ts", maxAgeSeconds: keep),
            RetentionRule(table: "ops.notification_outbox", timeColumn: "sent_at", condition: "sent_at IS NOT NULL", maxAgeSeconds: keep),
            // Resolved alerts only (their history goes with them: ON DELETE CASCADE).
            RetentionRule(table: "ops.alerts", timeColumn: "resolved_at", condition: "state = 'resolved'", maxAgeSeconds: keep),
            RetentionRule(table: "ops.alert_silences", timeColumn: "ends_at", maxAgeSeconds: keep),
            // The activity ledger.
            RetentionRule(table: "ops.runs", timeColumn: "created_at", maxAgeSeconds: keep, isLedger: true),
            RetentionRule(table: "ops.messages", timeColumn: "created_at", maxAgeSeconds: keep, isLedger: true),
            RetentionRule(table: "ops.llm_calls", timeColumn: "ts", maxAgeSeconds: keep, isLedger: true),
            // Axis h of the runs' aggregates (users by start hour) serves only active_users_24h:
            // two days of it are enough, and at every user × hour it is most of the table (at
            // 2,000 users, 1.2M of 1.4M rows over 31 days), which each fold's upserts wade through.
            RetentionRule(table: "ops.run_rollup", timeColumn: "bucket", condition: "axis = 'h'", maxAgeSeconds: 2 * day),
            // The runs' aggregates (migration 0014): deleting the runs above leaves their buckets
            // at zero, and a run's buckets (start and finish) are at most a little younger than
            // its created_at; two days on, nothing counts in them any more.
            RetentionRule(table: "ops.run_rollup", timeColumn: "bucket", maxAgeSeconds: keep + 2 * day),
            // The LLM calls' (migration 0016), by the same rule: their buckets are the calls' hours.
            RetentionRule(table: "ops.llm_rollup", timeColumn: "bucket", maxAgeSeconds: keep + 2 * day),
            // Monitor processes that stopped beating long ago (one row per process ever started).
            RetentionRule(table: "ops.monitor_instances", timeColumn: "heartbeat_at", maxAgeSeconds: 7 * day),
        ]
    }
}

import Foundation
import OpsJSON
import OpsLog
import OpsMonitorCore
import OpsPostgres

/// Every 5 minutes (first 10 s after activation): folds ops.probe_samples into
/// ops.probe_rollups and deletes old rows (RetentionPlan) in batches of 10,000.
///
/// Rollups are idempotent upserts that recompute whole buckets from the raw samples: hours
/// from the previous hour on (or from the newest hour already rolled up, after a pause of
/// the monitor, at most the 7 days raw samples are kept), days likewise but at most once an
/// hour (a day bucket reads up to a day of samples), so day rows are at most an hour behind.
final class RollupRetention: MonitorComponent {
    let name = "rollups"
    static let periodSeconds = 300.0
    static let firstRunSeconds = 10.0
    static let dayRollupSeconds = 3600.0

    func run(_ context: MonitorContext) {
        let db = context.makeDatabase("rollups")
        var lastDays: Double? = nil
        var wasActive = false
        var due = 0.0
        while !context.isStopping {
            guard context.isActive else { wasActive = false; context.sleep(1); continue }
            let now = ProbeClock.now()
            if !wasActive { wasActive = true; due = now + Self.firstRunSeconds; lastDays = nil }
            guard now >= due else { context.sleep(min(1, due - now)); continue }
            due = now + Self.periodSeconds
            do {
                let withDays = lastDays.map { now - $0 >= Self.dayRollupSeconds } ?? true
                try rollUp(db, context, days: withDays)
                if withDays { lastDays = now }
            } catch {
                context.logger.warn("probe rollups failed", [("error", .string("\(error)"))])
            }
            retain(db, context)
        }
        db.close()
    }

    func rollUp(_ db: DatabaseSession, _ context: MonitorContext, days: Bool) throws {
        let started = ProbeClock.now()
        var fields: [(String, JSON)] = []
        for grain in days ? ["hour", "day"] : ["hour"] {
            // `grain` is one of two constants, passed as a parameter all the same.
            let r = try db.run { c in
                try c.query("""
                    WITH since AS (
                        SELECT greatest(least(coalesce((SELECT max(bucket) FROM ops.probe_rollups WHERE grain = $1),
                                                       date_trunc($1, now()) - ('1 ' || $1)::interval),
                                              date_trunc($1, now()) - ('1 ' || $1)::interval),
                                        now() - interval '7 days') AS ts
                    )
                    INSERT INTO ops.probe_rollups AS r (grain, service, bucket, samples, failures, avg_ms, max_ms, p95_ms)
                    SELECT $1, service, date_trunc($1, ts), count(*), count(*) FILTER (WHERE status = 'down'),
                           avg(response_ms) FILTER (WHERE ok), max(response_ms) FILTER (WHERE ok),
                           percentile_cont(0.95) WITHIN GROUP (ORDER BY response_ms) FILTER (WHERE ok)
                    FROM ops.probe_samples
                    WHERE ts >= date_trunc($1, (SELECT ts FROM since))
                    GROUP BY service, date_trunc($1, ts)
                    ON CONFLICT (grain, bucket, service) DO UPDATE SET
                        samples = EXCLUDED.samples, failures = EXCLUDED.failures, avg_ms = EXCLUDED.avg_ms,
                        max_ms = EXCLUDED.max_ms, p95_ms = EXCLUDED.p95_ms
                    """, [grain])
            }
            fields.append(("\(grain)_rows", .int(Int64(r.affectedRows))))
        }
        fields.append(("ms", .int(Int64((ProbeClock.now() - started) * 1000))))
        context.logger.info("probe rollups updated", fields)
    }

    /// Deletes by time in batches; a table whose rule fails (missing, locked) is logged and
    /// skipped, the others still run.
    func retain(_ db: DatabaseSession, _ context: MonitorContext) {
        var deleted: [(String, JSON)] = []
        var ledgerChanged = false
        let started = ProbeClock.now()
        for rule in RetentionPlan.rules(retentionDays: context.config.retentionDays) {
            let cutoff = ISO8601DateFormatter().string(from: Date(timeIntervalSinceNow: -rule.maxAgeSeconds))
            var total = 0
            do {
                while context.isActive {
                    let n = try db.run { c in
                        try c.query(rule.batchDeleteSQL, [cutoff, String(RetentionPlan.batchSize)]).affectedRows
                    }
                    total += n
                    if n < RetentionPlan.batchSize { break }
                }
            } catch {
                context.logger.warn("retention failed for a table", [("table", .string(rule.table)), ("error", .string("\(error)"))])
            }
            if total > 0 {
                deleted.append((rule.table, .int(Int64(total))))
                ledgerChanged = ledgerChanged || rule.isLedger
            }
        }
        // Rows gone from the ledger change cached answers like new ones do: a 30-day series
        // under OPS_RETENTION_DAYS=7 must drop them (README, "Freshness").
        if ledgerChanged {
            do {
                try db.run { c in _ = try c.query("SELECT nextval('ops.data_version')") }
            } catch {
                context.logger.warn("retention could not mark cached answers out of date", [("error", .string("\(error)"))])
            }
        }
        if !deleted.isEmpty {
            context.logger.info("retention deleted old rows", deleted + [("retention_days", .int(Int64(context.config.retentionDays))),
                                                                        ("ms", .int(Int64((ProbeClock.now() - started) * 1000)))])
        }
    }
}

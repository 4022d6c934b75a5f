import OpsActivity
import OpsHTTP
import OpsJSON
import OpsMonitorCore
import OpsPostgres

/// `/api/monitoring/performance`: API latency percentiles, request rate, error rate and
/// uptime over `range=1h|6h|24h|7d`, from the monitor's access-log aggregates.
enum PerformanceRoutes {
    static func performance(_ request: Request, _ context: AppContext) throws -> Response {
        let q = try QueryParameters(request, allowed: ["range"])
        let range = try q.choice("range", PerformanceRange.self, fallback: .hour)
        let now = Double(UTCTime.now().micros) / 1_000_000
        let inputs = try context.database.run { try PerformanceQueries(db: $0).inputs(range: range, now: now) }
        return .json(PerformanceReport.build(inputs))
    }
}

/// The reads behind the performance answer, in one read-only snapshot so the rollups, the
/// minutes and the rollups' dirty mark agree with each other.
struct PerformanceQueries {
    let db: PGConnection

    func inputs(range: PerformanceRange, now: Double) throws -> PerformanceInputs {
        try db.transaction {
            try db.query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            let meta = try db.query("""
                WITH api AS (SELECT name, interval_s FROM ops.monitor_services
                             WHERE kind = 'http' AND active AND target LIKE '%/api/ops/healthz' ORDER BY name LIMIT 1)
                SELECT extract(epoch FROM (SELECT max(updated_at) FROM ops.access_log_cursor))::float8,
                       extract(epoch FROM (SELECT max(minute) FROM ops.api_minutes))::bigint,
                       (SELECT (value->>'from')::bigint FROM ops.monitor_state WHERE key = $1),
                       api.name, api.interval_s, extract(epoch FROM last.ts)::float8, last.ok,
                       extract(epoch FROM (SELECT max(ts) FROM ops.probe_samples f WHERE f.service = api.name AND NOT f.ok))::float8,
                       extract(epoch FROM (SELECT min(ts) FROM ops.probe_samples f WHERE f.service = api.name))::float8
                FROM (SELECT 1) one
                LEFT JOIN api ON true
                LEFT JOIN LATERAL (SELECT ts, ok FROM ops.probe_samples s WHERE s.service = api.name
                                   ORDER BY ts DESC LIMIT 1) last ON true
                """, [RollupPolicy.dirtyKey])
            let lastFlush = meta.double(0, 0)
            let latestMinute = meta.int(0, 1)
            let dirtyFrom = meta.int(0, 2)
            var probe: APIProbeHistory?
            if let service = meta.string(0, 3) {
                probe = APIProbeHistory(service: service, intervalSeconds: meta.double(0, 4) ?? 15,
                                        lastSampleAt: meta.double(0, 5), lastOK: meta.bool(0, 6) ?? false,
                                        lastFailureAt: meta.double(0, 7), firstSampleAt: meta.double(0, 8))
            }

            // Every row of the window as one packed text value (PackedRows): ~11,000 rows for
            // 6h arrive as one string and are summed without a String or array per row.
            var totals = PerformanceTotals(range: range, now: now)
            let first = totals.first
            let minutes = PackedRows.lineSQL(bucketSQL: "minute")
            if range.stepSeconds == 60 {
                let r = try db.query("""
                    SELECT string_agg(\(minutes), E'\\n') FROM ops.api_minutes WHERE minute >= to_timestamp($1::bigint)
                    """, [String(first)])
                if let text = r.string(0, 0) { totals.addPacked(text) }
            } else {
                // Hour rollups are exact before the oldest minute the rollup job has not folded
                // in yet (the dirty mark); from that hour on, the minutes are summed instead.
                let split = RollupPolicy.minutesFrom(dirtyFrom: dirtyFrom, now: now)
                let r = try db.query("""
                    SELECT (SELECT string_agg(\(PackedRows.lineSQL(bucketSQL: "bucket")), E'\\n') FROM ops.api_rollups
                            WHERE grain = 'hour' AND bucket >= to_timestamp($1::bigint) AND bucket < to_timestamp($2::bigint)),
                           (SELECT string_agg(\(minutes), E'\\n') FROM ops.api_minutes
                            WHERE minute >= to_timestamp(greatest($1::bigint, $2::bigint)))
                    """, [String(first), String(split)])
                if let text = r.string(0, 0) { totals.addPacked(text) }
                if let text = r.string(0, 1) { totals.addPacked(text) }
            }
            return PerformanceInputs(range: range, now: now, totals: totals, lastFlushAt: lastFlush,
                                     latestMinute: latestMinute, probe: probe)
        }
    }
}

import OpsMonitorCore
import OpsPostgres

/// Folds ops.api_minutes into ops.api_rollups ('hour', then 'day' from the hours), so 24-hour
/// and 7-day views read at most 168 rows a route group and survive the minutes' 48-hour
/// retention. The tail marks the oldest minute it added (`RollupPolicy.dirtyKey`); a run
/// recomputes every hour from that one on, and every day from its day on, from scratch
/// (delete + insert in one transaction): idempotent, and late lines (a rotated file read
/// late, a backlog after downtime) land in the right buckets. The mark is read FOR UPDATE,
/// so a flush that adds minutes meanwhile waits and marks them again afterwards.
struct ApiRollupStore {
    let db: PGConnection

    /// The oldest minute (Unix seconds) added since the last run, nil when none.
    func dirtyFrom() throws -> Int64? {
        let r = try db.query("SELECT (value->>'from')::bigint FROM ops.monitor_state WHERE key = $1", [RollupPolicy.dirtyKey])
        return r.rowCount == 1 ? r.int(0, 0) : nil
    }

    /// Recomputes what the mark asks for; returns the first hour recomputed (Unix seconds),
    /// nil when nothing was marked.
    @discardableResult
    func run() throws -> Int64? {
        try db.transaction {
            let mark = try db.query("SELECT (value->>'from')::bigint FROM ops.monitor_state WHERE key = $1 FOR UPDATE",
                                    [RollupPolicy.dirtyKey])
            guard mark.rowCount == 1, let dirty = mark.int(0, 0) else { return nil }
            let bounds = try db.query("""
                SELECT extract(epoch FROM h)::bigint, extract(epoch FROM date_trunc('day', h))::bigint
                FROM (SELECT greatest(date_trunc('hour', to_timestamp($1::bigint)),
                                      date_trunc('hour', now() - make_interval(hours => $2::int))) AS h) b
                """, [String(dirty), String(RollupPolicy.recomputableHours)])
            guard let fromHour = bounds.int(0, 0), let fromDay = bounds.int(0, 1) else { return nil }
            try db.query("DELETE FROM ops.api_rollups WHERE grain = 'hour' AND bucket >= to_timestamp($1::bigint)", [String(fromHour)])
            try db.query("""
                INSERT INTO ops.api_rollups (grain, bucket, route_group, requests, errors, client_errors, auth_failures,
                                             latency_sum_ms, latency_hist)
                SELECT 'hour', s.bucket, s.route_group, s.requests, s.errors, s.client_errors, s.auth_failures,
                       s.latency_sum_ms, h.hist
                FROM (SELECT date_trunc('hour', minute) AS bucket, route_group, sum(requests) AS requests,
                             sum(errors) AS errors, sum(client_errors) AS client_errors,
                             sum(auth_failures) AS auth_failures, sum(latency_sum_ms) AS latency_sum_ms
                      FROM ops.api_minutes WHERE minute >= to_timestamp($1::bigint) GROUP BY 1, 2) s
                JOIN (SELECT bucket, route_group, array_agg(v ORDER BY i) AS hist
                      FROM (SELECT date_trunc('hour', m.minute) AS bucket, m.route_group, u.i, sum(u.v) AS v
                            FROM ops.api_minutes m, unnest(m.latency_hist) WITH ORDINALITY AS u(v, i)
                            WHERE m.minute >= to_timestamp($1::bigint) GROUP BY 1, 2, 3) x
                      GROUP BY 1, 2) h USING (bucket, route_group)
                """, [String(fromHour)])
            try db.query("DELETE FROM ops.api_rollups WHERE grain = 'day' AND bucket >= to_timestamp($1::bigint)", [String(fromDay)])
            try db.query("""
                INSERT INTO ops.api_rollups (grain, bucket, route_group, requests, errors, client_errors, auth_failures,
                                             latency_sum_ms, latency_hist)
                SELECT 'day', s.bucket, s.route_group, s.requests, s.errors, s.client_errors, s.auth_failures,
                       s.latency_sum_ms, h.hist
                FROM (SELECT date_trunc('day', bucket) AS bucket, route_group, sum(requests)::bigint AS requests,
                             sum(errors)::bigint AS errors, sum(client_errors)::bigint AS client_errors,
                             sum(auth_failures)::bigint AS auth_failures, sum(latency_sum_ms) AS latency_sum_ms
                      FROM ops.api_rollups WHERE grain = 'hour' AND bucket >= to_timestamp($1::bigint) GROUP BY 1, 2) s
                JOIN (SELECT bucket, route_group, array_agg(v ORDER BY i) AS hist
                      FROM (SELECT date_trunc('day', r.bucket) AS bucket, r.route_group, u.i, sum(u.v)::bigint AS v
                            FROM ops.api_rollups r, unnest(r.latency_hist) WITH ORDINALITY AS u(v, i)
                            WHERE r.grain = 'hour' AND r.bucket >= to_timestamp($1::bigint) GROUP BY 1, 2, 3) x
                      GROUP BY 1, 2) h USING (bucket, route_group)
                """, [String(fromDay)])
            try db.query("DELETE FROM ops.monitor_state WHERE key = $1", [RollupPolicy.dirtyKey])
            return fromHour
        }
    }
}

import OpsJSON
import OpsMonitorCore
import OpsPostgres

/// ops.api_minutes and ops.access_log_cursor. Counts and the cursor move together in one
/// transaction, and only from the cursor this tail last read (compare-and-set), so every
/// line is counted exactly once: a crash before the commit re-reads the lines from the old
/// cursor, and a second monitor that moved the cursor in between makes this flush fail
/// instead of adding the same lines twice.
struct ApiMinuteStore {
    let db: PGConnection

    func cursor(path: String) throws -> TailCursor? {
        let r = try db.query("SELECT device, inode, byte_offset FROM ops.access_log_cursor WHERE path = $1", [path])
        guard r.rowCount == 1, let d = r.int(0, 0), let i = r.int(0, 1), let o = r.int(0, 2) else { return nil }
        return TailCursor(identity: FileIdentity(device: UInt64(bitPattern: d), inode: UInt64(bitPattern: i)), offset: o)
    }

    /// Adds `rows` to the minutes and moves the cursor from `old` to `new`; false (nothing
    /// written) when the stored cursor is not `old`. Also bumps the cursor's `updated_at`
    /// when nothing changed: the API reads it as "counted up to this moment".
    func flush(path: String, old: TailCursor?, new: TailCursor, rows: [MinuteRow]) throws -> Bool {
        do {
            try write(path: path, old: old, new: new, rows: rows)
            return true
        } catch is CursorMoved {
            return false
        }
    }

    private func write(path: String, old: TailCursor?, new: TailCursor, rows: [MinuteRow]) throws {
        try db.transaction {
            let moved: Int
            let newParams = [String(Int64(bitPattern: new.identity.device)), String(Int64(bitPattern: new.identity.inode)), String(new.offset)]
            if let old {
                moved = try db.query("""
                    UPDATE ops.access_log_cursor SET device = $2, inode = $3, byte_offset = $4, updated_at = now()
                    WHERE path = $1 AND device = $5 AND inode = $6 AND byte_offset = $7
                    """, [path] + newParams + [String(Int64(bitPattern: old.identity.device)),
                                                String(Int64(bitPattern: old.identity.inode)), String(old.offset)]).affectedRows
            } else {
                moved = try db.query("""
                    INSERT INTO ops.access_log_cursor (path, device, inode, byte_offset) VALUES ($1, $2, $3, $4)
                    ON CONFLICT (path) DO NOTHING
                    """, [path] + newParams).affectedRows
            }
            guard moved == 1 else { throw CursorMoved() }
            guard !rows.isEmpty else { return }
            let json = JSON.array(rows.map { row in
                ["minute": .int(row.minute), "route_group": .string(row.group), "requests": .int(row.counts.requests),
                 "errors": .int(row.counts.errors), "client_errors": .int(row.counts.clientErrors),
                 "auth_failures": .int(row.counts.authFailures), "latency_sum_ms": .double(row.counts.latencySumMillis),
                 "latency_hist": .array(LatencyHistogram.trimmed(row.counts.histogram).map { .int($0) })]
            }).serialized()
            // Element-wise sum of the histograms: unnest pads the shorter array with NULLs.
            try db.query("""
                INSERT INTO ops.api_minutes AS m (minute, route_group, requests, errors, client_errors, auth_failures,
                                                  latency_sum_ms, latency_hist)
                SELECT to_timestamp(r.minute), r.route_group, r.requests, r.errors, r.client_errors, r.auth_failures,
                       r.latency_sum_ms, r.latency_hist
                FROM jsonb_to_recordset($1::jsonb) AS r(minute bigint, route_group text, requests integer, errors integer,
                     client_errors integer, auth_failures integer, latency_sum_ms double precision, latency_hist integer[])
                ON CONFLICT (minute, route_group) DO UPDATE SET
                    requests = m.requests + EXCLUDED.requests,
                    errors = m.errors + EXCLUDED.errors,
                    client_errors = m.client_errors + EXCLUDED.client_errors,
                    auth_failures = m.auth_failures + EXCLUDED.auth_failures,
                    latency_sum_ms = m.latency_sum_ms + EXCLUDED.latency_sum_ms,
                    latency_hist = (SELECT array_agg(COALESCE(a, 0) + COALESCE(b, 0) ORDER BY i)
                                    FROM unnest(m.latency_hist, EXCLUDED.latency_hist) WITH ORDINALITY AS u(a, b, i))
                """, [json])
            // The rollups recompute every hour from the oldest minute touched.
            let oldest = rows.map(\.minute).min()!
            try db.query("""
                INSERT INTO ops.monitor_state (key, value, updated_at) VALUES ($1, jsonb_build_object('from', $2::bigint), now())
                ON CONFLICT (key) DO UPDATE SET
                    value = jsonb_build_object('from', LEAST((ops.monitor_state.value->>'from')::bigint, $2::bigint)),
                    updated_at = now()
                """, [RollupPolicy.dirtyKey, String(oldest)])
        }
    }

    struct CursorMoved: Error {}
}

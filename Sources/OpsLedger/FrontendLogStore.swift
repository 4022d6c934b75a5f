import OpsActivity
import OpsBeacon
import OpsJSON
import OpsPostgres

/// The browser-error ring buffer: the last `ringSize` reports per route template, a
/// per-fingerprint budget per minute, route and drop counters. One statement per accepted
/// report (autocommit): when it returns, the report is committed — with
/// `synchronous_commit = off` for that one transaction (set_config(..., true) inside the
/// statement), so the worker does not wait for the WAL flush: telemetry trades the last
/// ~0.6 s (3 × wal_writer_delay) on a Postgres or OS crash for not paying an fsync per
/// beacon. A worker crash loses nothing that was answered.
public struct FrontendLogStore {
    public static let ringSize = 500
    /// Distinct route templates kept; reports from further routes share the "(other)" slots.
    public static let maxRoutes = 200
    public static let otherRoute = "(other)"
    let db: PGConnection

    public init(connection: PGConnection) { self.db = connection }

    public enum Outcome: Equatable {
        case stored(route: String, seq: Int64)
        /// Over the fingerprint's budget for this minute; retry after `seconds`.
        case throttled(retryAfterSeconds: Int)
    }

    public func store(_ r: BeaconReport, perFingerprintPerMinute cap: Int) throws -> Outcome {
        let result = try db.query("""
            WITH rate AS (
                INSERT INTO ops.frontend_fingerprint_rate AS f (fingerprint, minute, count)
                VALUES ($1, date_trunc('minute', now()), 1)
                ON CONFLICT (fingerprint) DO UPDATE
                    SET count = CASE WHEN f.minute = EXCLUDED.minute THEN f.count + 1 ELSE 1 END,
                        minute = EXCLUDED.minute
                RETURNING count
            ), allowed AS (
                SELECT count <= $3::int AS ok FROM rate
            ), r AS (
                -- CASE evaluates lazily: the count runs only for a route not seen before.
                SELECT CASE WHEN EXISTS (SELECT 1 FROM ops.frontend_log_routes WHERE route = $2) THEN $2
                            WHEN (SELECT count(*) FROM ops.frontend_log_routes) < $4::int THEN $2
                            ELSE '(other)' END AS route
            ), c AS (
                INSERT INTO ops.frontend_log_routes AS fr (route, written, evicted)
                SELECT r.route, 1, 0 FROM r, allowed WHERE allowed.ok
                ON CONFLICT (route) DO UPDATE
                    SET written = fr.written + 1,
                        evicted = fr.evicted + CASE WHEN fr.written >= $5::int THEN 1 ELSE 0 END
                RETURNING route, written
            ), w AS (
                INSERT INTO ops.frontend_logs AS l (route, slot, seq, received_at, ts, fingerprint, message, error_type,
                                                    source, stack, build_hash, browser, ws_state, breadcrumbs)
                SELECT c.route, ((c.written - 1) % $5::int)::int, c.written, now(), $6::timestamptz, $1, $7, $8,
                       $9, $10, $11, $12, $13, $14::jsonb
                FROM c
                ON CONFLICT (route, slot) DO UPDATE SET
                    seq = EXCLUDED.seq, received_at = EXCLUDED.received_at, ts = EXCLUDED.ts,
                    fingerprint = EXCLUDED.fingerprint, message = EXCLUDED.message, error_type = EXCLUDED.error_type,
                    source = EXCLUDED.source, stack = EXCLUDED.stack, build_hash = EXCLUDED.build_hash,
                    browser = EXCLUDED.browser, ws_state = EXCLUDED.ws_state, breadcrumbs = EXCLUDED.breadcrumbs
                RETURNING route, seq
            )
            SELECT (SELECT ok FROM allowed), (SELECT route FROM w), (SELECT seq FROM w),
                   60 - extract(second FROM now())::int,
                   set_config('synchronous_commit', 'off', true)
            """, [r.fingerprint, r.route, String(cap), String(Self.maxRoutes), String(Self.ringSize),
                  r.ts?.iso8601Micros, r.message, r.errorType, r.source, r.stack, r.buildHash, r.browser, r.wsState,
                  r.breadcrumbs?.serialized()])
        if result.bool(0, 0) == true, let route = result.string(0, 1), let seq = result.int(0, 2) {
            // Old budget rows are only needed for the current minute; trim them now and then.
            if seq % 1000 == 0 {
                try db.query("DELETE FROM ops.frontend_fingerprint_rate WHERE minute < now() - interval '10 minutes'")
            }
            return .stored(route: route, seq: seq)
        }
        return .throttled(retryAfterSeconds: max(1, Int(result.int(0, 3) ?? 60)))
    }

    /// Counts a refused report by reason.
    public func countDrop(_ reason: String) throws {
        try db.query("""
            INSERT INTO ops.frontend_log_drops AS d (reason, count, last_at) VALUES ($1, 1, now())
            ON CONFLICT (reason) DO UPDATE SET count = d.count + 1, last_at = now()
            """, [reason])
    }

    /// Reports received in the last `sinceSeconds`, newest first.
    public func entries(sinceSeconds: Int64, route: String?, limit: Int) throws -> [JSON] {
        let r = try db.query("""
            SELECT route, seq, \(micros("received_at")), \(micros("ts")), fingerprint, message, error_type, source, stack, build_hash, browser,
                   ws_state, breadcrumbs
            FROM ops.frontend_logs
            WHERE received_at >= now() - make_interval(secs => $1::double precision) AND ($2::text IS NULL OR route = $2)
            ORDER BY received_at DESC, seq DESC LIMIT $3::int
            """, [String(sinceSeconds), route, String(limit)])
        return (0..<r.rowCount).map { i in
            [
                "received_at": .from(r.time(i, 2)?.iso8601), "ts": .from(r.time(i, 3)?.iso8601),
                "route": .from(r.string(i, 0)), "seq": .from(r.int(i, 1)),
                "fingerprint": .from(r.string(i, 4)), "message": .from(r.string(i, 5)),
                "type": .from(r.string(i, 6)), "source": .from(r.string(i, 7)), "stack": .from(r.string(i, 8)),
                "build_hash": .from(r.string(i, 9)), "browser": .from(r.string(i, 10)), "ws_state": .from(r.string(i, 11)),
                "breadcrumbs": r.string(i, 12).flatMap { try? JSON.parse($0) } ?? .null,
            ]
        }
    }

    /// The same reports grouped by fingerprint, largest group first.
    public func groups(sinceSeconds: Int64, route: String?, limit: Int) throws -> [JSON] {
        let r = try db.query("""
            SELECT fingerprint, count(*), \(micros("min(received_at)")), \(micros("max(received_at)")),
                   (array_agg(message ORDER BY received_at DESC))[1],
                   (array_agg(error_type ORDER BY received_at DESC))[1],
                   (array_agg(stack ORDER BY received_at DESC))[1],
                   array_to_json((array_agg(DISTINCT build_hash) FILTER (WHERE build_hash IS NOT NULL))[1:20]),
                   array_to_json((array_agg(DISTINCT route))[1:20])
            FROM ops.frontend_logs
            WHERE received_at >= now() - make_interval(secs => $1::double precision) AND ($2::text IS NULL OR route = $2)
            GROUP BY fingerprint ORDER BY count(*) DESC, max(received_at) DESC LIMIT $3::int
            """, [String(sinceSeconds), route, String(limit)])
        return (0..<r.rowCount).map { i in
            [
                "fingerprint": .from(r.string(i, 0)), "count": .from(r.int(i, 1)),
                "first_seen": .from(r.time(i, 2)?.iso8601), "last_seen": .from(r.time(i, 3)?.iso8601),
                "message": .from(r.string(i, 4)), "type": .from(r.string(i, 5)), "sample_stack": .from(r.string(i, 6)),
                "build_hashes": r.string(i, 7).flatMap { try? JSON.parse($0) } ?? .array([]),
                "routes": r.string(i, 8).flatMap { try? JSON.parse($0) } ?? .array([]),
            ]
        }
    }

    /// Drops by reason and evictions (all routes, or one).
    public func counters(route: String?) throws -> (dropped: JSON, evicted: Int64, written: Int64) {
        let drops = try db.query("SELECT reason, count FROM ops.frontend_log_drops ORDER BY reason")
        var dropped = JSONObject()
        for i in 0..<drops.rowCount { dropped[drops.string(i, 0) ?? "?"] = .from(drops.int(i, 1)) }
        let routes = try db.query("""
            SELECT coalesce(sum(evicted), 0), coalesce(sum(written), 0) FROM ops.frontend_log_routes
            WHERE $1::text IS NULL OR route = $1
            """, [route])
        return (.object(dropped), routes.int(0, 0) ?? 0, routes.int(0, 1) ?? 0)
    }
}

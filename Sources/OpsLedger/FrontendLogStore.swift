import OpsActivity
import OpsBeacon
import OpsJSON
import OpsPostgres

/// The browser-error ring buffer: the last `ringSize` reports per route template, route and
/// drop counters, and the shared per-fingerprint budget counts. Reports arrive in batches
/// from a worker's `FrontendLogQueue`; one autocommitted statement writes a batch (with
/// synchronous commit: when it returns, the batch is on disk).
public struct FrontendLogStore {
    public static let ringSize = 500
    /// Distinct route templates kept; reports from further routes share the "(other)" slots.
    public static let maxRoutes = 200
    public static let otherRoute = "(other)"
    let db: PGConnection

    public init(connection: PGConnection) { self.db = connection }

    /// Writes a batch in one statement, keeping the ring's rules exactly as if the reports
    /// had come one at a time in the batch's order:
    /// - a route without a ring gets one while fewer than `maxRoutes` exist (new routes of a
    ///   batch in order of first appearance), else its reports go to `(other)`;
    /// - each route's counter grows by its reports; report k of n gets
    ///   `seq = written − n + k` and slot `(seq − 1) % ringSize`, overwriting in place, and
    ///   `evicted` grows by what fell out of the ring; of more than `ringSize` reports of
    ///   one route only the last `ringSize` are written (the rest count as evicted);
    /// - drop counts are added by reason;
    /// - the budget counts are added to the fingerprints' rows for their minute (a row of
    ///   an older minute restarts), and the resulting totals come back.
    /// Rows are locked in one order by every batch (fingerprints, routes, slots, drop
    /// reasons, each sorted), so concurrent flushes of several workers wait, never deadlock.
    public func write(_ batch: BeaconBatch) throws -> [BudgetDelta] {
        let reports = batch.reports
        // Prepared: planning this statement costs more than writing a small batch.
        let r = try db.preparedQuery("ops_frontend_log_write", """
            WITH input AS (
                SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::text[], $5::text[], $6::text[],
                                     $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[])
                    WITH ORDINALITY AS t(route, received_us, ts_us, fingerprint, message, error_type, source, stack,
                                         build_hash, browser, ws_state, breadcrumbs, ord)
            ), fresh AS (
                SELECT route, row_number() OVER (ORDER BY min(ord)) AS rank
                FROM input i
                WHERE NOT EXISTS (SELECT 1 FROM ops.frontend_log_routes r WHERE r.route = i.route)
                GROUP BY route
            ), placed AS (
                SELECT i.*, CASE WHEN f.rank IS NULL THEN i.route
                                 WHEN f.rank <= $19::int - (SELECT count(*) FROM ops.frontend_log_routes) THEN i.route
                                 ELSE '(other)' END AS target
                FROM input i LEFT JOIN fresh f USING (route)
            ), counted AS (
                INSERT INTO ops.frontend_log_routes AS fr (route, written, evicted)
                SELECT target, count(*), greatest(count(*) - $18::int, 0) FROM placed GROUP BY target ORDER BY target
                ON CONFLICT (route) DO UPDATE
                    SET written = fr.written + EXCLUDED.written,
                        evicted = fr.evicted + greatest(fr.written + EXCLUDED.written - $18::int, 0)
                                             - greatest(fr.written - $18::int, 0)
                RETURNING route, written
            ), numbered AS (
                SELECT p.*, c.written AS top,
                       c.written - count(*) OVER (PARTITION BY p.target)
                                 + row_number() OVER (PARTITION BY p.target ORDER BY p.ord) AS seq
                FROM placed p JOIN counted c ON c.route = p.target
            ), stored AS (
                INSERT INTO ops.frontend_logs AS l (route, slot, seq, received_at, ts, fingerprint, message, error_type,
                                                    source, stack, build_hash, browser, ws_state, breadcrumbs)
                SELECT target, ((seq - 1) % $18::int)::int, seq,
                       timestamptz 'epoch' + received_us * interval '1 microsecond',
                       timestamptz 'epoch' + ts_us * interval '1 microsecond',
                       fingerprint, message, error_type, source, stack, build_hash, browser, ws_state, breadcrumbs::jsonb
                FROM numbered WHERE seq > top - $18::int
                ORDER BY target, seq
                ON CONFLICT (route, slot) DO UPDATE SET
                    seq = EXCLUDED.seq, received_at = EXCLUDED.received_at, ts = EXCLUDED.ts,
                    fingerprint = EXCLUDED.fingerprint, message = EXCLUDED.message, error_type = EXCLUDED.error_type,
                    source = EXCLUDED.source, stack = EXCLUDED.stack, build_hash = EXCLUDED.build_hash,
                    browser = EXCLUDED.browser, ws_state = EXCLUDED.ws_state, breadcrumbs = EXCLUDED.breadcrumbs
            ), rate AS (
                INSERT INTO ops.frontend_fingerprint_rate AS f (fingerprint, minute, count)
                SELECT fp, timestamptz 'epoch' + m * interval '1 minute', n
                FROM unnest($13::text[], $14::bigint[], $15::int[]) AS t(fp, m, n) ORDER BY fp
                ON CONFLICT (fingerprint) DO UPDATE
                    SET count = CASE WHEN f.minute = EXCLUDED.minute THEN f.count + EXCLUDED.count
                                     WHEN f.minute > EXCLUDED.minute THEN f.count
                                     ELSE EXCLUDED.count END,
                        minute = greatest(f.minute, EXCLUDED.minute)
                RETURNING fingerprint, floor(extract(epoch FROM minute) / 60)::bigint AS m, count
            ), dropped AS (
                INSERT INTO ops.frontend_log_drops AS d (reason, count, last_at)
                SELECT reason, n, now() FROM unnest($16::text[], $17::bigint[]) AS t(reason, n) ORDER BY reason
                ON CONFLICT (reason) DO UPDATE SET count = d.count + EXCLUDED.count, last_at = now()
            )
            SELECT fingerprint, m, count FROM rate
            """, [
                Self.arrayLiteral(reports.map { $0.report.route }),
                Self.arrayLiteral(reports.map { String($0.receivedMicros) }),
                Self.arrayLiteral(reports.map { $0.report.ts.map { String($0.micros) } }),
                Self.arrayLiteral(reports.map { $0.report.fingerprint }),
                Self.arrayLiteral(reports.map { $0.report.message }),
                Self.arrayLiteral(reports.map { $0.report.errorType }),
                Self.arrayLiteral(reports.map { $0.report.source }),
                Self.arrayLiteral(reports.map { $0.report.stack }),
                Self.arrayLiteral(reports.map { $0.report.buildHash }),
                Self.arrayLiteral(reports.map { $0.report.browser }),
                Self.arrayLiteral(reports.map { $0.report.wsState }),
                Self.arrayLiteral(reports.map { $0.report.breadcrumbs?.serialized() }),
                Self.arrayLiteral(batch.budget.map(\.fingerprint)),
                Self.arrayLiteral(batch.budget.map { String($0.minute) }),
                Self.arrayLiteral(batch.budget.map { String($0.count) }),
                Self.arrayLiteral(batch.drops.map(\.reason)),
                Self.arrayLiteral(batch.drops.map { String($0.count) }),
                String(Self.ringSize), String(Self.maxRoutes),
            ])
        return (0..<r.rowCount).compactMap { i in
            guard let fp = r.string(i, 0), let m = r.int(i, 1), let n = r.int(i, 2) else { return nil }
            return BudgetDelta(fingerprint: fp, minute: m, count: Int(n))
        }
    }

    /// Budget rows are only needed for the current minute; the flusher trims them now and then.
    public func trimFingerprintBudget() throws {
        try db.query("DELETE FROM ops.frontend_fingerprint_rate WHERE minute < now() - interval '10 minutes'")
    }

    /// `PGArray.literal` over UTF-8 bytes (a batch carries a megabyte of stacks): every
    /// element quoted, `"` and `\` escaped; a NUL (which no text column can hold, and which
    /// would end libpq's C string) becomes U+FFFD.
    static func arrayLiteral(_ values: [String?]) -> String {
        var out: [UInt8] = [UInt8(ascii: "{")]
        out.reserveCapacity(values.reduce(2) { $0 + ($1?.utf8.count ?? 4) + 3 })
        for (i, v) in values.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            guard let v else { out += "NULL".utf8; continue }
            out.append(UInt8(ascii: "\""))
            for b in v.utf8 {
                switch b {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"): out.append(UInt8(ascii: "\\")); out.append(b)
                case 0: out += [0xEF, 0xBF, 0xBD]
                default: out.append(b)
                }
            }
            out.append(UInt8(ascii: "\""))
        }
        out.append(UInt8(ascii: "}"))
        return String(decoding: out, as: UTF8.self)
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

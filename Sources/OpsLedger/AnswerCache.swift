import OpsActivity
import OpsLog
import OpsPostgres

/// Cached answers of expensive aggregate routes, shared by every worker through
/// `ops.api_cache`, decided by `CachePolicy`. At most one worker recomputes a key at a time
/// (a transaction-level advisory lock); the others keep serving the previous answer.
public struct AnswerCache {
    let db: PGConnection
    let policy: CachePolicy

    public init(connection: PGConnection, policy: CachePolicy) {
        self.db = connection
        self.policy = policy
    }

    /// The serialized JSON answer for `key`: cached, or computed by `compute` and stored.
    public func answer(_ key: String, compute: () throws -> String) throws -> String {
        let r = try db.query("""
            SELECT (SELECT last_value FROM ops.data_version), c.data_version,
                   extract(epoch FROM clock_timestamp() - c.computed_at) * 1000, c.compute_ms, c.body
            FROM (SELECT 1) one LEFT JOIN ops.api_cache c ON c.key = $1
            """, [key])
        let version = r.int(0, 0) ?? 0
        var cached: CachePolicy.Cached?
        if let v = r.int(0, 1), let age = r.double(0, 2), let ms = r.double(0, 3) {
            cached = CachePolicy.Cached(dataVersion: v, ageMillis: age, computeMillis: ms)
        }
        if policy.decide(cached, currentVersion: version) == .serveCached, let body = r.string(0, 4) { return body }
        return try db.transaction {
            let locked = try db.query("SELECT pg_try_advisory_xact_lock(hashtext($1))", [key]).bool(0, 0) ?? false
            if !locked, cached != nil, let body = r.string(0, 4) { return body }
            let start = Timestamp.monotonicMillis()
            let body = try compute()
            try db.query("""
                INSERT INTO ops.api_cache (key, data_version, computed_at, compute_ms, body)
                VALUES ($1, $2, clock_timestamp(), $3, $4)
                ON CONFLICT (key) DO UPDATE SET data_version = EXCLUDED.data_version,
                    computed_at = EXCLUDED.computed_at, compute_ms = EXCLUDED.compute_ms, body = EXCLUDED.body
                """, [key, String(version), String(Timestamp.monotonicMillis() - start), body])
            return body
        }
    }
}

import OpsActivity
import OpsLog
import OpsPostgres

/// Cached answers of expensive aggregate routes, shared by every worker through
/// `ops.api_cache` and decided by `CachePolicy`:
/// - cheap answers (small data) are recomputed in the request whenever data changed, so they
///   are exact;
/// - expensive ones are served from the cache and kept fresh by `AnswerRefresher` in the
///   background, so no request waits for them and a request costs the same at any data size;
/// - a key nobody has computed yet is computed once: concurrent requests wait for the one
///   that holds the key's lock and then read its answer;
/// - when a recomputation fails (a statement timeout under load), the previous answer is
///   served rather than an error.
/// A cached answer takes longer to compute than a request may wait (the statement timeout):
/// the refresher computes it in the background, without that timeout, and the client is told
/// to come back (503 `answer_computing` with Retry-After).
public struct AnswerComputing: Error, Sendable {
    public let key: String
}

public struct AnswerCache {
    /// An expensive answer older than this is recomputed in the request after all (the
    /// refresher is not keeping up, or not running).
    public static let staleLimitMillis: Double = 30_000
    let db: PGConnection
    let policy: CachePolicy
    let logger: Logger?

    public init(connection: PGConnection, policy: CachePolicy, logger: Logger? = nil) {
        self.db = connection
        self.policy = policy
        self.logger = logger
    }

    public func answer(_ answer: CachedAnswer, now: UTCTime) throws -> String {
        let key = answer.key
        // Prepared: every aggregate read runs it, and planning it cost more than running it.
        let r = try db.preparedQuery("ops_answer_cache_read", """
            SELECT (SELECT last_value FROM ops.data_version), c.data_version,
                   extract(epoch FROM clock_timestamp() - c.computed_at) * 1000,
                   greatest(c.compute_ms, coalesce(c.request_ms, 0)), c.body,
                   c.last_read_at < clock_timestamp() - interval '5 seconds'
            FROM (SELECT 1) one LEFT JOIN ops.api_cache c ON c.key = $1
            """, [key])
        let version = r.int(0, 0) ?? 0
        guard let body = r.string(0, 4), let v = r.int(0, 1), let age = r.double(0, 2), let ms = r.double(0, 3) else {
            return try computeCold(answer, now: now, version: version)
        }
        if body.isEmpty { throw AnswerComputing(key: key) }  // a placeholder: the refresher has it
        // Tells the refresher this key is still wanted (a write at most every 5 s per key).
        if r.bool(0, 5) == true {
            try db.query("UPDATE ops.api_cache SET last_read_at = clock_timestamp() WHERE key = $1", [key])
        }
        // `ms`: the longer of the refresher's and the request path's last computation (0017).
        let cached = CachePolicy.Cached(dataVersion: v, ageMillis: age, computeMillis: ms)
        let decision = policy.decide(cached, currentVersion: version, rolling: answer.hasRollingWindow)
        let expensive = ms > policy.cheapMillis
        if decision == .serveCached || (expensive && age < Self.staleLimitMillis) { return body }
        do {
            return try db.transaction {
                guard try db.query("SELECT pg_try_advisory_xact_lock(hashtext($1))", [key]).bool(0, 0) == true else {
                    return body  // another worker is recomputing it
                }
                return try store(answer, now: now, version: version, inRequest: true)
            }
        } catch let error as PGError where db.isHealthy {
            logger?.warn("serving the previous answer: recomputing failed", [("key", .string(key)), ("error", .string(error.description))])
            return body
        }
    }

    /// The first computation of a key: one worker computes, the others wait on its lock and
    /// read the result instead of computing it again.
    /// If the computation outlasts the statement timeout, a placeholder row (empty body, taken
    /// for a long and long-ago computation) hands it to the refresher, which has no timeout:
    /// otherwise an answer slower than the timeout (top agents over 30 days at tens of millions
    /// of runs) was attempted by every request and never stored.
    func computeCold(_ answer: CachedAnswer, now: UTCTime, version: Int64) throws -> String {
        do {
            return try db.transaction {
                try db.query("SELECT pg_advisory_xact_lock(hashtext($1))", [answer.key])
                let again = try db.query("SELECT body FROM ops.api_cache WHERE key = $1", [answer.key])
                if let body = again.string(0, 0) {
                    if body.isEmpty { throw AnswerComputing(key: answer.key) }
                    return body
                }
                return try store(answer, now: now, version: version, inRequest: true)
            }
        } catch let error as PGError where error.sqlState == "57014" && db.isHealthy {
            let placed = try db.query("""
                INSERT INTO ops.api_cache (key, data_version, computed_at, compute_ms, request_ms, body, last_read_at)
                SELECT $1, -1, clock_timestamp() - interval '1 hour', ms, ms, '', clock_timestamp()
                FROM (SELECT greatest(extract(epoch FROM current_setting('statement_timeout')::interval) * 1000, $2) AS ms) t
                ON CONFLICT (key) DO NOTHING RETURNING compute_ms
                """, [answer.key, String(AnswerRefresher.slowMillis + 1)])  // never taken for cheap
            logger?.info("answer handed to the refresher: it outlasted the statement timeout",
                         [("key", .string(answer.key)), ("timeout_ms", .from(placed.double(0, 0)))])
            throw AnswerComputing(key: answer.key)
        }
    }

    /// Computes and stores; the caller holds the key's lock. With a memo (the refresher), the
    /// answer is stored under the oldest data version it reflects. With `durations`, `version`
    /// must have been read before they were last synced (they may miss what committed after).
    /// `inRequest`: computed by a request, whose time is also kept as request_ms.
    @discardableResult
    public func store(_ answer: CachedAnswer, now: UTCTime, version: Int64, memo: TopAgentsMemo? = nil,
                      durations: RunDurations? = nil, inRequest: Bool = false) throws -> String {
        let start = Timestamp.monotonicMillis()
        memo?.begin(version: version)
        durations?.begin()
        let body = try answer.compute(db, now: now, memo: memo, durations: durations)
        let version = min(version, memo?.oldestVersionUsed ?? version)
        // compute_ms is what computing the answer costs (shared results count as computed
        // here: CachePolicy must not take the answer for cheap) and at least how old its data
        // was when stored (the bench's freshness probe reads it): from the oldest shared result
        // of an older data version it includes, or the duration histograms' last sync, if any.
        let end = Timestamp.monotonicMillis()
        let oldest = min(start, memo?.oldestStartUsed ?? start, durations?.usedSyncMillis ?? start)
        let computeMillis = max(end - start + (memo?.reusedMillis ?? 0), end - oldest)
        try db.query("""
            INSERT INTO ops.api_cache AS c (key, data_version, computed_at, compute_ms, body, last_read_at, request_ms)
            VALUES ($1, $2, clock_timestamp(), $3, $4, clock_timestamp(), CASE WHEN $5::boolean THEN $3::double precision END)
            ON CONFLICT (key) DO UPDATE SET data_version = EXCLUDED.data_version,
                computed_at = EXCLUDED.computed_at, compute_ms = EXCLUDED.compute_ms, body = EXCLUDED.body,
                request_ms = coalesce(EXCLUDED.request_ms, c.request_ms)
            """, [answer.key, String(version), String(computeMillis), body, inRequest ? "true" : "false"])
        return body
    }
}

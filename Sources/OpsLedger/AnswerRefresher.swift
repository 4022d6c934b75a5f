import OpsActivity
import OpsLog
import OpsPostgres
#if canImport(Glibc)
import Glibc
#endif

/// Keeps expensive cached answers fresh in the background, so that requests never wait for
/// them. Every worker process runs one; a session advisory lock lets only one of them work
/// at a time (the others stand by and take over if it stops). Each round it recomputes the
/// answers read in the last minute whose data changed or that are older than 3/4 of the
/// maximum age, oldest first, then pauses as long as the round took. It runs for the life
/// of its process (a worker's threads are not joined on exit either).
public final class AnswerRefresher: @unchecked Sendable {
    static let lockKey = "7286412098152"
    let databaseURL: String
    let policy: CachePolicy
    let logger: Logger
    private var connection: PGConnection?
    private var holdsLock = false

    public init(databaseURL: String, policy: CachePolicy, logger: Logger) {
        self.databaseURL = databaseURL
        self.policy = policy
        self.logger = logger
    }

    public func run() -> Never {
        while true {
            do {
                let start = Timestamp.monotonicMillis()
                let worked = try round()
                usleep(worked ? Self.pauseMicros(afterMillis: Timestamp.monotonicMillis() - start) : 250_000)
            } catch {
                connection = nil
                holdsLock = false
                usleep(1_000_000)
            }
        }
    }

    /// The pause after a round that recomputed: as long as the round took (50 ms to 5 s), so
    /// the refresher keeps at most about half of one core busy. Without it, a steady stream of
    /// ingest (every batch changes the data) kept it recomputing back to back: at 1M runs today
    /// one core of Postgres spent on summary/top/timeseries, taken from ingest.
    static func pauseMicros(afterMillis spent: Double) -> UInt32 {
        UInt32(min(5_000, max(50, spent)) * 1000)
    }

    /// One pass; true when it recomputed something.
    func round() throws -> Bool {
        if connection == nil || connection?.isHealthy == false {
            connection = try PGConnection(url: databaseURL, applicationName: "opsplane-refresher", connectTimeoutSeconds: 3)
            holdsLock = false
        }
        guard let db = connection else { return false }
        if !holdsLock {
            holdsLock = try db.query("SELECT pg_try_advisory_lock($1::bigint)", [Self.lockKey]).bool(0, 0) == true
            guard holdsLock else { usleep(750_000); return false }
        }
        let due = try db.query("""
            SELECT c.key FROM ops.api_cache c, (SELECT last_value AS v FROM ops.data_version) d
            WHERE c.last_read_at > clock_timestamp() - interval '60 seconds'
              AND c.compute_ms > $1
              AND (c.data_version <> d.v OR c.computed_at < clock_timestamp() - make_interval(secs => $2::double precision))
            ORDER BY c.computed_at LIMIT 8
            """, [String(policy.cheapMillis), String(policy.maxAgeMillis * 0.75 / 1000)])
        let now = UTCTime.now()
        let today = now.dateString
        var worked = false
        for i in 0..<due.rowCount {
            guard let key = due.string(i, 0), let answer = CachedAnswer(key: key) else { continue }
            if let date = answer.date, date != today {
                try db.query("DELETE FROM ops.api_cache WHERE key = $1", [key])  // that day is over
                continue
            }
            let version = try db.query("SELECT last_value FROM ops.data_version").int(0, 0) ?? 0
            do {
                try db.transaction {
                    guard try db.query("SELECT pg_try_advisory_xact_lock(hashtext($1))", [key]).bool(0, 0) == true else { return }
                    try AnswerCache(connection: db, policy: policy).store(answer, now: UTCTime.now(), version: version)
                }
                worked = true
            } catch let error as PGError where db.isHealthy {
                logger.warn("refreshing a cached answer failed", [("key", .string(key)), ("error", .string(error.description))])
            }
        }
        return worked
    }
}

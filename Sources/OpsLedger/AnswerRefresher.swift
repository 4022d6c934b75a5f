import OpsActivity
import OpsLog
import OpsPostgres
#if canImport(Glibc)
import Glibc
#endif

/// Keeps expensive cached answers fresh in the background, so that requests never wait for
/// them. Every worker process runs one per lane; a session advisory lock per lane lets only one
/// of them work at a time (the others stand by and take over if it stops). Each round it
/// recomputes the answers of its lane read in the last minute that CachePolicy.refreshDue names
/// (data changed, or old enough), oldest first. It runs for the life of its process (a
/// worker's threads are not joined on exit either).
public final class AnswerRefresher: @unchecked Sendable {
    /// Which answers a refresher keeps fresh. The main lane folds ingest's pending aggregates,
    /// keeps today's duration histograms and computes every expensive answer but the slow ones.
    /// The slow lane computes those that took over `slowMillis` and do not read today's
    /// histograms: top agents over 7 or 30 days, whose p95 sorts the window's durations
    /// (seconds at millions of runs). In one lane they held up every other answer: a 3.5 s
    /// computation made the summary 5 s old while someone read the 30-day list.
    public enum Lane: String, Sendable {
        case main, slow
        var lockKey: String { self == .main ? "7286412098152" : "7286412098154" }
    }
    public static let slowMillis = 1_000.0

    /// The lane an expensive answer belongs to, by what it reads and its last computation time.
    public static func lane(of answer: CachedAnswer, computeMillis: Double) -> Lane {
        computeMillis > slowMillis && !answer.readsTodaysDurations ? .slow : .main
    }

    let databaseURL: String
    let policy: CachePolicy
    let logger: Logger
    let lane: Lane
    private var connection: PGConnection?
    private var holdsLock = false
    private let memo = TopAgentsMemo()
    /// Today's duration histograms (migration 0014), the main lane's only: kept up to date every
    /// round, also while no answer is due, so that the pending rows stay few.
    private let durations: RunDurations?

    public init(databaseURL: String, policy: CachePolicy, logger: Logger, lane: Lane = .main) {
        self.databaseURL = databaseURL
        self.policy = policy
        self.logger = logger
        self.lane = lane
        durations = lane == .main ? RunDurations() : nil  // the slow lane's answers never read them
    }

    public func run() -> Never {
        while true {
            do {
                let worked = try round()
                usleep(worked ? 50_000 : 250_000)
            } catch {
                if connection?.isHealthy == true {
                    logger.warn("refresher round failed", [("error", .string(String(describing: error)))])
                }
                connection = nil
                holdsLock = false
                durations?.reset()
                usleep(1_000_000)
            }
        }
    }

    /// One pass; true when it recomputed something.
    func round() throws -> Bool {
        if connection == nil || connection?.isHealthy == false {
            connection = try PGConnection(url: databaseURL, applicationName: lane == .main ? "opsplane-refresher" : "opsplane-refresher-slow",
                                          connectTimeoutSeconds: 3)
            holdsLock = false
        }
        guard let db = connection else { return false }
        if !holdsLock {
            holdsLock = try db.query("SELECT pg_try_advisory_lock($1::bigint)", [lane.lockKey]).bool(0, 0) == true
            guard holdsLock else { usleep(750_000); return false }
            durations?.reset()  // another refresher may have taken pending rows meanwhile
        }
        // Ingest's pending aggregates first (migration 0014): readers add them up on every
        // read until they are folded, so the fewer the cheaper.
        if lane == .main { try db.query("SELECT ops.fold_run_rollup()") }
        // The data version before the histograms are synced: every answer of this round is
        // stored under it, as the histograms may miss what commits after the sync.
        let version = try db.query("SELECT last_value FROM ops.data_version").int(0, 0) ?? 0
        let buildStart = Timestamp.monotonicMillis()
        if try durations?.sync(db, now: UTCTime.now()) == true {
            logger.info("built today's duration histograms from ops.runs",
                        [("ms", .int(Int64(Timestamp.monotonicMillis() - buildStart)))])
        }
        // Keys read in the last minute that only the refresher computes (expensive ones); which
        // of them are due is CachePolicy.refreshDue, oldest computation first, 8 a round.
        let rows = try db.query("""
            SELECT c.key, c.data_version, d.v, extract(epoch FROM clock_timestamp() - c.computed_at) * 1000, c.compute_ms
            FROM ops.api_cache c, (SELECT last_value AS v FROM ops.data_version) d
            WHERE c.last_read_at > clock_timestamp() - interval '60 seconds'
              AND greatest(c.compute_ms, coalesce(c.request_ms, 0)) > $1
            """, [String(policy.cheapMillis)])
        var candidates: [(key: String, answer: CachedAnswer, ageMillis: Double)] = []
        for i in 0..<rows.rowCount {
            guard let key = rows.string(i, 0), let answer = CachedAnswer(key: key), let version = rows.int(i, 1),
                  let current = rows.int(i, 2), let age = rows.double(i, 3), let ms = rows.double(i, 4),
                  Self.lane(of: answer, computeMillis: ms) == lane else { continue }
            let cached = CachePolicy.Cached(dataVersion: version, ageMillis: age, computeMillis: ms)
            if policy.refreshDue(cached, currentVersion: current, rolling: answer.hasRollingWindow) {
                candidates.append((key, answer, age))
            }
        }
        let due = candidates.sorted { $0.ageMillis > $1.ageMillis }.prefix(8)
        let now = UTCTime.now()
        let today = now.dateString
        var worked = false
        memo.nextRound()
        for (key, answer, _) in due {
            if let date = answer.date, date != today {
                try db.query("DELETE FROM ops.api_cache WHERE key = $1", [key])  // that day is over
                continue
            }
            do {
                try db.transaction {
                    guard try db.query("SELECT pg_try_advisory_xact_lock(hashtext($1))", [key]).bool(0, 0) == true else { return }
                    try AnswerCache(connection: db, policy: policy).store(answer, now: UTCTime.now(), version: version,
                                                                          memo: memo, durations: durations)
                }
                worked = true
            } catch let error as PGError where db.isHealthy {
                logger.warn("refreshing a cached answer failed", [("key", .string(key)), ("error", .string(error.description))])
            }
        }
        return worked
    }
}

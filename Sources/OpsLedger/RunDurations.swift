import OpsActivity
import OpsLog
import OpsPostgres

/// Today's duration histograms, kept in memory by the refresher that holds the lock, so that
/// the summary's latency p50/p95 and the top agents' p95_ms are exact without sorting every
/// run of the day (about 1.1 s at 1M runs today). The triggers of migration 0014 write every
/// change of a duration to ops.run_duration_pending; `sync` takes those rows (DELETE ...
/// RETURNING) and applies them, or builds the histograms from ops.runs when it has none for
/// today (start, a new UTC day, a TRUNCATE, an inconsistency). One refresher thread owns it;
/// not thread-safe.
public final class RunDurations {
    /// More pending rows than this are not worth applying one by one: build again.
    static let rebuildAbove = 200_000
    /// The UTC date (YYYY-MM-DD) the histograms are of; nil when there are none.
    private(set) var day: String?
    /// ops.run_rollup_epoch when they were built: a TRUNCATE of ops.runs moves it on.
    private var epoch: Int64 = -1
    /// Durations of the runs that succeeded and finished on `day` (latency_ms).
    private(set) var latency = DurationHistogram()
    /// Durations of each agent's runs started on `day` (p95_ms).
    private(set) var byAgent: [String: DurationHistogram] = [:]
    /// When the last sync began (monotonic ms): the histograms hold what had committed by then.
    private var syncedAtMillis: Double = 0
    /// When the histograms handed out since `begin` were synced; nil when none were. An answer
    /// that used them is as old as that, which its stored compute_ms then says.
    public private(set) var usedSyncMillis: Double?

    public init() {}

    /// Forgets the histograms (the refresher lost its connection or its lock: rows may have
    /// been taken by another).
    public func reset() { day = nil }

    /// Starts the computation of one answer.
    public func begin() { usedSyncMillis = nil }

    /// The histograms of `date` when they are up to date for it.
    func histograms(for date: String) -> (latency: DurationHistogram, byAgent: [String: DurationHistogram])? {
        guard day == date else { return nil }
        usedSyncMillis = syncedAtMillis
        return (latency, byAgent)
    }

    /// Brings the histograms up to what has committed; true when it built them from ops.runs.
    /// One REPEATABLE READ transaction, so a build sees ops.runs at the same moment as the
    /// pending rows it discards; what it read is applied only once that has committed (a
    /// failed COMMIT gives the rows back to the table, and they must not count twice).
    @discardableResult
    public func sync(_ db: PGConnection, now: UTCTime) throws -> Bool {
        let today = now.dateString
        let (d0, d1) = SeriesWindow.today.bounds(now: now)
        let startedMillis = Timestamp.monotonicMillis()
        enum Read { case none, taken(PGResult), built(latency: PGResult, byAgent: PGResult, epoch: Int64) }
        let read: Read = try db.transaction {
            try db.query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            // Before the snapshot: waits for a TRUNCATE in progress to commit, whose epoch is then
            // read below (a TRUNCATE is not MVCC-safe; an older snapshot would see its table empty).
            try db.query("LOCK TABLE ops.runs IN ACCESS SHARE MODE")
            let epochNow = try db.query("""
                SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM ops.run_rollup_epoch
                """).int(0, 0) ?? 0  // the first nextval leaves last_value at 1
            let pending = try db.query("SELECT count(*) FROM ops.run_duration_pending").int(0, 0) ?? 0
            let consistent = latency.isConsistent && byAgent.values.allSatisfy(\.isConsistent)
            guard day == today, epochNow == epoch, consistent, pending <= Self.rebuildAbove else {
                try db.query("DELETE FROM ops.run_duration_pending")
                let p = [d0.sql, d1.sql]
                let l = try db.query("""
                    SELECT duration_ms, count(*) FROM ops.runs
                    WHERE finished_at >= $1 AND finished_at < $2 AND status = 'success' AND duration_ms IS NOT NULL
                    GROUP BY duration_ms
                    """, p)
                let a = try db.query("""
                    SELECT agent_id, duration_ms, count(*) FROM ops.runs
                    WHERE started_at >= $1 AND started_at < $2 AND duration_ms IS NOT NULL
                    GROUP BY agent_id, duration_ms
                    """, p)
                return .built(latency: l, byAgent: a, epoch: epochNow)
            }
            guard pending > 0 else { return .none }
            return .taken(try db.query("""
                DELETE FROM ops.run_duration_pending RETURNING axis, extract(epoch FROM day)::bigint, key, duration_ms, n
                """))
        }
        switch read {
        case .none:
            syncedAtMillis = startedMillis
            return false
        case .taken(let r):
            syncedAtMillis = startedMillis
            for i in 0..<r.rowCount {
                guard r.int(i, 1) == d0.seconds, let d = r.int(i, 3), let n = r.int(i, 4) else { continue }
                if r.string(i, 0) == "l" {
                    latency.add(d, count: n)
                } else if let agent = r.string(i, 2) {
                    byAgent[agent, default: DurationHistogram()].add(d, count: n)
                }
            }
            return false
        case .built(let l, let a, let epochNow):
            var latency = DurationHistogram()
            for i in 0..<l.rowCount { if let d = l.int(i, 0), let n = l.int(i, 1) { latency.add(d, count: n) } }
            var byAgent: [String: DurationHistogram] = [:]
            for i in 0..<a.rowCount {
                if let agent = a.string(i, 0), let d = a.int(i, 1), let n = a.int(i, 2) {
                    byAgent[agent, default: DurationHistogram()].add(d, count: n)
                }
            }
            self.latency = latency
            self.byAgent = byAgent
            self.epoch = epochNow
            self.day = today
            syncedAtMillis = startedMillis
            return true
        }
    }
}

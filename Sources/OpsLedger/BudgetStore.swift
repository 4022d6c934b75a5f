import OpsActivity
import OpsJSON
import OpsPostgres

/// The numbers the budget guard needs for one user today.
public struct BudgetUsage: Equatable, Sendable {
    public let userSpentUSD: Double
    public let userRunsToday: Int64
    public let globalSpentUSD: Double
}

public struct BudgetStore {
    let db: PGConnection
    let cache: AnswerCache

    public init(connection: PGConnection, cache: AnswerCache) {
        self.db = connection
        self.cache = cache
    }

    /// Per-user figures are exact (index-only ranges of runs_user_budget); the global spend goes
    /// through the answer cache, so on a busy day it may lag by the cache's maximum age.
    /// Runs started today either finished today or later (finished_at >= started_at is checked
    /// at ingest) or have not finished: both are ranges of the one (user_id, finished_at) index.
    public func usage(userID: String, now: UTCTime) throws -> BudgetUsage {
        let (d0, d1) = SeriesWindow.today.bounds(now: now)
        let user = try db.query("""
            SELECT coalesce((SELECT sum(cost_usd) FROM ops.runs WHERE user_id = $1 AND finished_at >= $2 AND finished_at < $3), 0),
                   (SELECT count(*) FROM ops.runs WHERE user_id = $1 AND finished_at >= $2 AND started_at >= $2 AND started_at < $3)
                 + (SELECT count(*) FROM ops.runs WHERE user_id = $1 AND finished_at IS NULL AND started_at >= $2 AND started_at < $3)
            """, [userID, d0.sql, d1.sql])
        let global = try cache.answer(.globalSpend(date: d0.dateString), now: now)
        return BudgetUsage(userSpentUSD: user.double(0, 0) ?? 0, userRunsToday: user.int(0, 1) ?? 0,
                           globalSpentUSD: Double(global) ?? 0)
    }
}

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

    /// Per-user figures are exact and read from the run aggregates (migration 0014: the user's
    /// row of axis c, spend by finish day, and of axis u, runs by start day, folded or still
    /// pending); the global spend goes through the answer cache, so on a busy day it may lag by
    /// the cache's maximum age.
    public func usage(userID: String, now: UTCTime) throws -> BudgetUsage {
        let (d0, _) = SeriesWindow.today.bounds(now: now)
        let user = try db.query("""
            SELECT coalesce(sum(cost) FILTER (WHERE axis = 'c'), 0), coalesce(sum(runs) FILTER (WHERE axis = 'u'), 0)
            FROM ops.run_rollup_now WHERE axis IN ('c', 'u') AND bucket = $2 AND key = $1
            """, [userID, d0.sql])
        let global = try cache.answer(.globalSpend(date: d0.dateString), now: now)
        return BudgetUsage(userSpentUSD: user.double(0, 0) ?? 0, userRunsToday: user.int(0, 1) ?? 0,
                           globalSpentUSD: Double(global) ?? 0)
    }
}

import OpsActivity
import OpsJSON
import OpsPostgres

/// Every aggregate answer that goes through `ops.api_cache`, named by its key, so that the
/// request path and the background refresher compute an answer the same way.
public enum CachedAnswer: Equatable, Sendable {
    public enum TopKind: String, CaseIterable, Sendable { case agents, users, models }

    case summary(date: String, userCents: Int64, globalCents: Int64)
    case timeseries(ActivityQueries.Metric, SeriesWindow, date: String)
    case top(TopKind, SeriesWindow, limit: Int, date: String)
    case overview(OverviewPeriod)
    case globalSpend(date: String)

    public var key: String {
        switch self {
        case .summary(let d, let u, let g): return "summary:\(d):\(u):\(g)"
        case .timeseries(let m, let w, let d): return "timeseries:\(m.rawValue):\(w.rawValue):\(d)"
        case .top(let k, let w, let l, let d): return "top:\(k.rawValue):\(w.rawValue):\(l):\(d)"
        case .overview(let p): return "overview:\(p.rawValue)"
        case .globalSpend(let d): return "global_spend:\(d)"
        }
    }

    public init?(key: String) {
        let p = key.split(separator: ":").map(String.init)
        switch (p.first, p.count) {
        case ("summary", 4):
            guard let u = Int64(p[2]), let g = Int64(p[3]) else { return nil }
            self = .summary(date: p[1], userCents: u, globalCents: g)
        case ("timeseries", 4):
            guard let m = ActivityQueries.Metric(rawValue: p[1]), let w = SeriesWindow(rawValue: p[2]) else { return nil }
            self = .timeseries(m, w, date: p[3])
        case ("top", 5):
            guard let k = TopKind(rawValue: p[1]), let w = SeriesWindow(rawValue: p[2]), let l = Int(p[3]) else { return nil }
            self = .top(k, w, limit: l, date: p[4])
        case ("overview", 2):
            guard let o = OverviewPeriod(rawValue: p[1]) else { return nil }
            self = .overview(o)
        case ("global_spend", 2):
            self = .globalSpend(date: p[1])
        default:
            return nil
        }
    }

    /// The day a dated answer belongs to; it is not refreshed once that day is over.
    public var date: String? {
        switch self {
        case .summary(let d, _, _), .timeseries(_, _, let d), .top(_, _, _, let d), .globalSpend(let d): return d
        case .overview: return nil
        }
    }

    /// Whether the answer moves with the clock while the data stays the same: the summary
    /// ("errors in the last hour", "active users in 24 h") and the overview (24 h / 7 d ending
    /// now). The others cover whole calendar days named in their key (today's date), so with
    /// unchanged data they are exact at any age (CachePolicy).
    public var hasRollingWindow: Bool {
        switch self {
        case .summary, .overview: return true
        case .timeseries, .top, .globalSpend: return false
        }
    }

    /// Whether the refresher computes it from its histograms of today's durations
    /// (RunDurations): the summary's latency and the top agents' p95 of today.
    public var readsTodaysDurations: Bool {
        switch self {
        case .summary: return true
        case .top(.agents, .today, _, _): return true
        case .timeseries, .top, .overview, .globalSpend: return false
        }
    }

    /// The serialized answer as of `now`; `memo` shares top-agents results between answers,
    /// `durations` are the refresher's histograms of today's durations.
    public func compute(_ db: PGConnection, now: UTCTime, memo: TopAgentsMemo? = nil,
                        durations: RunDurations? = nil) throws -> String {
        let q = ActivityQueries(connection: db, memo: memo, durations: durations)
        switch self {
        case .summary(_, let u, let g):
            return try q.summary(now: now, limits: .init(userCents: u, globalCents: g)).serialized()
        case .timeseries(let m, let w, _):
            return try q.timeseries(m, window: w, now: now).serialized()
        case .top(let k, let w, let l, _):
            switch k {
            case .agents: return try q.topAgents(window: w, now: now, limit: l).serialized()
            case .users: return try q.topUsers(window: w, now: now, limit: l).serialized()
            case .models: return try q.topModels(window: w, now: now, limit: l).serialized()
            }
        case .overview(let p):
            return try q.overview(period: p, now: now).serialized()
        case .globalSpend:
            let (d0, d1) = SeriesWindow.today.bounds(now: now)
            let r = try db.query("""
                SELECT coalesce(sum(cost), 0) FROM ops.run_rollup_now WHERE axis = 'f' AND bucket >= $1 AND bucket < $2
                """, [d0.sql, d1.sql])
            return String(r.double(0, 0) ?? 0)
        }
    }
}

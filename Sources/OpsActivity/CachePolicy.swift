/// When an expensive aggregate answer may be served from `ops.api_cache`.
///
/// - Data unchanged since the answer was computed, and the answer is younger than `maxAge`:
///   serve it (time-dependent numbers such as "errors in the last hour" may drift by at most
///   `maxAge`).
/// - Data changed: recompute if computing is cheap (small data: every answer is exact);
///   otherwise serve the cached answer until it is `maxAge` old, then recompute.
/// So answers are at most `maxAge` stale, and the cost of a request does not grow with the
/// data: at most one expensive computation per key per `maxAge`.
public struct CachePolicy: Sendable {
    public let maxAgeMillis: Double
    public let cheapMillis: Double

    public init(maxAgeMillis: Double, cheapMillis: Double) {
        self.maxAgeMillis = maxAgeMillis
        self.cheapMillis = cheapMillis
    }

    public struct Cached: Sendable {
        public let dataVersion: Int64
        public let ageMillis: Double
        public let computeMillis: Double

        public init(dataVersion: Int64, ageMillis: Double, computeMillis: Double) {
            self.dataVersion = dataVersion
            self.ageMillis = ageMillis
            self.computeMillis = computeMillis
        }
    }

    public enum Decision: Equatable, Sendable { case serveCached, recompute }

    /// How many of its own computation times an expensive answer waits, when no data changed,
    /// before the background refresher computes it again.
    public static let unchangedRefreshFactor = 2.0
    /// ...but at most this long, so an answer of unchanged data stays well inside the request
    /// path's own limit (AnswerCache.staleLimitMillis, 30 s) even on a saturated host.
    public static let unchangedRefreshCeilingMillis = 10_000.0

    /// How many of its own computation times an expensive answer waits after the last one
    /// ended before it is computed again for changed data. Under steady writes the data
    /// changes every round: without a floor a 3.5 s answer (top agents over 30 days at 4M runs)
    /// was recomputed back to back, a core for as long as someone kept reading it.
    public static let changedRefreshFactor = 1.0

    /// Whether the background refresher should recompute an expensive answer now.
    ///
    /// - Data changed: once it is as old as its own computation took (at once for the quick
    ///   ones: its age is then one computation plus the refresher's round; at most half of a
    ///   refresher's time for a slow one).
    /// - Data unchanged: only its rolling windows ("errors in the last hour", "active users in
    ///   24 h") move, so it is recomputed at 3/4 of `maxAge`, but never sooner than
    ///   `unchangedRefreshFactor` × its computation time (at most 10 s) after the last one
    ///   ended. Without that floor an answer that takes longer than 3/4 of `maxAge` to compute
    ///   (the summary at 1M runs today: 2.5 s against 1.5 s) kept one core busy for as long as
    ///   a dashboard was open on a host where nothing happened.
    ///
    /// An answer without a rolling window (`rolling` false: timeseries and top lists of
    /// calendar days, whose day is part of the key) is the same at any age while the data is
    /// unchanged, so it is never recomputed for age. At 1M runs today, recomputing them every
    /// 1.5 s kept the host's second core half busy while a dashboard was open.
    public func refreshDue(_ cached: Cached, currentVersion: Int64, rolling: Bool = true) -> Bool {
        if cached.dataVersion != currentVersion { return cached.ageMillis >= Self.changedRefreshFactor * cached.computeMillis }
        guard rolling else { return false }
        let floor = min(Self.unchangedRefreshFactor * cached.computeMillis, Self.unchangedRefreshCeilingMillis)
        return cached.ageMillis >= max(maxAgeMillis * 0.75, floor)
    }

    /// `rolling` as in `refreshDue`: an answer without a rolling window is served at any age
    /// while the data is unchanged.
    public func decide(_ cached: Cached?, currentVersion: Int64, rolling: Bool = true) -> Decision {
        guard let cached else { return .recompute }
        if !rolling && cached.dataVersion == currentVersion { return .serveCached }
        if cached.ageMillis >= maxAgeMillis { return .recompute }
        if cached.dataVersion == currentVersion { return .serveCached }
        return cached.computeMillis <= cheapMillis ? .recompute : .serveCached
    }
}

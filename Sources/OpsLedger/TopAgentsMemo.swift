import OpsJSON

/// The background refresher's copy of its last top-agents results, so that the summary
/// (whose `top_agents_today` is the top 5 agents of today) and `top?kind=agents&window=today`
/// do not both pass over every run of the day: at 1M runs today that pass took about 1 s of
/// the summary's 2.5 s.
///
/// A result is reused when it was computed at the data version of the answer being computed
/// (the data has not changed since, so it is exact), or earlier in the same refresher round
/// (data changed meanwhile: the answer is then stored under the older version it partly
/// reflects, `oldestVersionUsed`, so the refresher computes it again at once rather than
/// holding a stale answer as current). One refresher thread owns it; not thread-safe.
public final class TopAgentsMemo {
    struct Key: Hashable {
        let start: Int64
        let end: Int64
        let limit: Int
    }

    struct Entry {
        let version: Int64
        let round: Int
        /// Monotonic time at which the query started: the moment its data is from.
        let startedMillis: Double
        /// How long the query took: what reusing it saves.
        let durationMillis: Double
        let agents: JSON
        let total: Int64
    }

    private var entries: [Key: Entry] = [:]
    private var round = 0
    private var version: Int64 = 0
    /// The oldest data version among the results handed out since `begin`; nil when none.
    public private(set) var oldestVersionUsed: Int64?
    /// When the oldest result of an older data version handed out since `begin` was computed
    /// (monotonic ms): an answer that includes it is as old as that result, which its stored
    /// compute_ms then says.
    public private(set) var oldestStartUsed: Double?
    /// What the results handed out since `begin` took to compute. An answer that reused them
    /// stores its compute_ms with this added: CachePolicy decides by compute_ms whether an
    /// answer is cheap enough for a request to recompute, and a request has no memo (a top
    /// answer stored as "0.3 ms" was recomputed in requests, 0.9 s each at 1M runs).
    public private(set) var reusedMillis: Double = 0

    public init() {}

    /// A new refresher round: results of earlier rounds stay usable only at an unchanged version.
    public func nextRound() {
        round += 1
        // Only today's and the last days' windows are asked for; drop the rest now and then.
        if entries.count > 64 { entries = entries.filter { $0.value.round >= round - 1 } }
    }

    /// Starts the computation of one answer at data version `version`.
    public func begin(version: Int64) {
        self.version = version
        oldestVersionUsed = nil
        oldestStartUsed = nil
        reusedMillis = 0
    }

    func lookup(_ key: Key) -> (agents: JSON, total: Int64)? {
        guard let e = entries[key], e.version == version || e.round == round else { return nil }
        oldestVersionUsed = min(oldestVersionUsed ?? e.version, e.version)
        reusedMillis += e.durationMillis
        // At an unchanged version the result is what the query would return now: no older.
        if e.version != version { oldestStartUsed = min(oldestStartUsed ?? e.startedMillis, e.startedMillis) }
        return (e.agents, e.total)
    }

    func store(_ key: Key, startedMillis: Double, durationMillis: Double, agents: JSON, total: Int64) {
        entries[key] = Entry(version: version, round: round, startedMillis: startedMillis,
                             durationMillis: durationMillis, agents: agents, total: total)
    }
}

/// A run as stored, and how a new record for it changes it. Pure, so the lifecycle rules
/// (never backwards, missing fields keep their value, replays change nothing) are unit-tested.
public struct StoredRun: Equatable, Sendable {
    public var runID: String
    public var agentID: String
    public var userID: String?
    public var status: RunStatus
    public var createdAt: UTCTime
    public var startedAt: UTCTime?
    public var finishedAt: UTCTime?
    public var durationMs: Int64?
    public var model: String?
    public var promptTokens: Int64?
    public var completionTokens: Int64?
    public var costUSD: Double?
    public var error: String?

    public init(runID: String, agentID: String, userID: String?, status: RunStatus, createdAt: UTCTime,
                startedAt: UTCTime?, finishedAt: UTCTime?, durationMs: Int64?, model: String?,
                promptTokens: Int64?, completionTokens: Int64?, costUSD: Double?, error: String?) {
        self.runID = runID
        self.agentID = agentID
        self.userID = userID
        self.status = status
        self.createdAt = createdAt
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.durationMs = durationMs
        self.model = model
        self.promptTokens = promptTokens
        self.completionTokens = completionTokens
        self.costUSD = costUSD
        self.error = error
    }
}

public struct RunMergeResult: Equatable, Sendable {
    public let row: StoredRun
    /// The row must be written.
    public let changed: Bool
    /// The ticker event this record publishes (only when the status changed).
    public let event: String?
}

public enum RunMerge {
    public static func merge(stored: StoredRun?, incoming r: RunRecord) -> RunMergeResult {
        guard let old = stored else {
            var row = StoredRun(runID: r.runID, agentID: r.agentID, userID: r.userID, status: r.status,
                                createdAt: r.createdAt, startedAt: r.startedAt, finishedAt: r.finishedAt,
                                durationMs: r.durationMs, model: r.model, promptTokens: r.promptTokens,
                                completionTokens: r.completionTokens, costUSD: r.costUSD ?? nil, error: r.error ?? nil)
            deriveDuration(&row)
            return RunMergeResult(row: row, changed: true, event: r.status.eventType)
        }
        // A record from an earlier stage arriving late is accepted and ignored.
        if r.status.rank < old.status.rank {
            return RunMergeResult(row: old, changed: false, event: nil)
        }
        var row = old
        row.agentID = r.agentID
        row.userID = r.userID ?? old.userID
        row.status = r.status
        row.startedAt = r.startedAt ?? old.startedAt
        row.finishedAt = r.finishedAt ?? old.finishedAt
        row.durationMs = r.durationMs ?? old.durationMs
        deriveDuration(&row)
        row.model = r.model ?? old.model
        row.promptTokens = r.promptTokens ?? old.promptTokens
        row.completionTokens = r.completionTokens ?? old.completionTokens
        if let cost = r.costUSD { row.costUSD = cost }
        if let error = r.error { row.error = error }
        let changed = row != old
        return RunMergeResult(row: row, changed: changed, event: row.status != old.status ? row.status.eventType : nil)
    }

    /// duration_ms from the timestamps when the host app did not send it.
    static func deriveDuration(_ row: inout StoredRun) {
        if row.durationMs == nil, let s = row.startedAt, let f = row.finishedAt, f >= s {
            row.durationMs = (f.micros - s.micros) / 1000
        }
    }
}

/// An agent as stored; a record replaces its fields (missing optional fields keep theirs).
public enum AgentMerge {
    /// (row, changed, event) where event is agent_created or agent_updated.
    public static func merge(stored: AgentRecord?, incoming a: AgentRecord) -> (row: AgentRecord, changed: Bool, event: String?) {
        guard let old = stored else { return (a, true, "agent_created") }
        var row = old
        row.name = a.name
        row.ownerEmail = a.ownerEmail ?? old.ownerEmail
        row.ownerID = a.ownerID ?? old.ownerID
        // schedule is meaningful as null ("not scheduled"), so a record always sets it.
        row.schedule = a.schedule
        row.createdAt = old.createdAt ?? a.createdAt
        row.updatedAt = a.updatedAt ?? old.updatedAt
        let changed = row != old
        return (row, changed, changed ? "agent_updated" : nil)
    }
}

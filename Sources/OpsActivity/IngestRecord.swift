import OpsJSON

/// A validated record of the ingest API. Timestamps are normalised to UTC; ids are strings.
public enum IngestRecord: Equatable, Sendable {
    case agent(AgentRecord)
    case run(RunRecord)
    case message(MessageRecord)
    case llmCall(LLMCallRecord)
    case heartbeat(HeartbeatRecord)

    /// The kind and id, for de-duplicating a batch (the last record with an id wins).
    public var identity: String {
        switch self {
        case .agent(let a): return "agent\u{0}" + a.agentID
        case .run(let r): return "run\u{0}" + r.runID
        case .message(let m): return "message\u{0}" + m.messageID
        case .llmCall(let c): return "llm_call\u{0}" + c.id
        case .heartbeat(let h): return "heartbeat\u{0}" + h.component + "\u{0}" + h.ts.iso8601
        }
    }
}

public struct AgentRecord: Equatable, Sendable {
    public var agentID: String
    public var name: String
    public var ownerEmail: String?
    public var ownerID: String?
    public var schedule: String?
    public var createdAt: UTCTime?
    public var updatedAt: UTCTime?

    public init(agentID: String, name: String, ownerEmail: String? = nil, ownerID: String? = nil, schedule: String? = nil, createdAt: UTCTime? = nil, updatedAt: UTCTime? = nil) {
        self.agentID = agentID
        self.name = name
        self.ownerEmail = ownerEmail
        self.ownerID = ownerID
        self.schedule = schedule
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}

public struct RunRecord: Equatable, Sendable {
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
    /// nil = not sent (keep the stored value); .some(nil) = explicitly unknown.
    public var costUSD: Double??
    public var error: String??

    public init(runID: String, agentID: String, userID: String? = nil, status: RunStatus, createdAt: UTCTime, startedAt: UTCTime? = nil, finishedAt: UTCTime? = nil, durationMs: Int64? = nil, model: String? = nil, promptTokens: Int64? = nil, completionTokens: Int64? = nil, costUSD: Double?? = nil, error: String?? = nil) {
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

public struct MessageRecord: Equatable, Sendable {
    public var messageID: String
    public var threadID: String
    public var userID: String?
    public var createdAt: UTCTime

    public init(messageID: String, threadID: String, userID: String? = nil, createdAt: UTCTime) {
        self.messageID = messageID
        self.threadID = threadID
        self.userID = userID
        self.createdAt = createdAt
    }
}

public struct LLMCallRecord: Equatable, Sendable {
    public var id: String
    public var ts: UTCTime
    public var orgID: String?
    public var runID: String?
    public var provider: String
    public var model: String
    public var promptTokens: Int64?
    public var completionTokens: Int64?
    public var latencyMs: Int64?
    public var status: String?
    public var errorCode: String?
    public var costUSD: Double?

    public init(id: String, ts: UTCTime, orgID: String? = nil, runID: String? = nil, provider: String, model: String, promptTokens: Int64? = nil, completionTokens: Int64? = nil, latencyMs: Int64? = nil, status: String? = nil, errorCode: String? = nil, costUSD: Double? = nil) {
        self.id = id
        self.ts = ts
        self.orgID = orgID
        self.runID = runID
        self.provider = provider
        self.model = model
        self.promptTokens = promptTokens
        self.completionTokens = completionTokens
        self.latencyMs = latencyMs
        self.status = status
        self.errorCode = errorCode
        self.costUSD = costUSD
    }
}

public struct HeartbeatRecord: Equatable, Sendable {
    public enum ComponentType: String, CaseIterable, Sendable { case worker, model, service, queue }
    public var component: String
    public var componentType: ComponentType
    public var status: String
    public var ts: UTCTime
    public var metrics: JSON

    public init(component: String, componentType: ComponentType, status: String, ts: UTCTime, metrics: JSON) {
        self.component = component
        self.componentType = componentType
        self.status = status
        self.ts = ts
        self.metrics = metrics
    }
}

/// A refused record: a stable code and a message that names the field.
public struct RecordError: Error, Equatable, Sendable {
    public let code: String
    public let message: String

    public init(_ code: String, _ message: String) {
        self.code = code
        self.message = message
    }
}

import OpsJSON

/// Turns one JSON object into an `IngestRecord` or a `RecordError`. Pure: `now` is passed in
/// so that "too far in the future" is testable.
public struct RecordValidator: Sendable {
    /// Timestamps later than now + this are refused (clock skew is tolerated, typos are not).
    public static let futureToleranceSeconds: Int64 = 86_400
    public static let maxIDLength = 200
    public static let maxTextLength = 10_000

    public let now: UTCTime

    public init(now: UTCTime) { self.now = now }

    public static let kinds = ["agent", "run", "message", "llm_call", "heartbeat"]

    public func validate(_ value: JSON) -> Result<IngestRecord, RecordError> {
        guard let object = value.objectValue else {
            return .failure(RecordError("invalid_record", "A record must be a JSON object, not \(value.typeName)."))
        }
        guard let kindValue = object["kind"] else {
            return .failure(RecordError("missing_field", "Field 'kind' is required (one of \(Self.kinds.joined(separator: ", ")))."))
        }
        guard let kind = kindValue.stringValue else {
            return .failure(RecordError("invalid_field", "Field 'kind' must be a string."))
        }
        var r = FieldReader(object: object, now: now)
        do {
            switch kind {
            case "agent": return .success(.agent(try agent(&r)))
            case "run": return .success(.run(try run(&r)))
            case "message": return .success(.message(try message(&r)))
            case "llm_call": return .success(.llmCall(try llmCall(&r)))
            case "heartbeat": return .success(.heartbeat(try heartbeat(&r)))
            default:
                return .failure(RecordError("unknown_kind",
                                            "Unknown kind '\(kind.prefix(64))'; accepted: \(Self.kinds.joined(separator: ", "))."))
            }
        } catch {
            return .failure(error)
        }
    }

    func agent(_ r: inout FieldReader) throws(RecordError) -> AgentRecord {
        let a = AgentRecord(agentID: try r.id("agent_id"), name: try r.requiredText("name", max: 500),
                            ownerEmail: try r.text("owner_email", max: 320), ownerID: try r.optionalID("owner_id"),
                            schedule: try r.text("schedule", max: 200), createdAt: try r.time("created_at"),
                            updatedAt: try r.time("updated_at"))
        try r.finish()
        return a
    }

    func run(_ r: inout FieldReader) throws(RecordError) -> RunRecord {
        let statusText = try r.requiredText("status", max: 32)
        guard let status = RunStatus(rawValue: statusText) else {
            throw RecordError("invalid_field", "Field 'status' must be one of \(RunStatus.accepted), not '\(statusText.prefix(32))'.")
        }
        var run = RunRecord(runID: try r.id("run_id"), agentID: try r.id("agent_id"), userID: try r.optionalID("user_id"),
                            status: status, createdAt: try r.requiredTime("created_at"),
                            startedAt: try r.time("started_at"), finishedAt: try r.time("finished_at"),
                            durationMs: try r.count("duration_ms"), model: try r.text("model", max: 200),
                            promptTokens: try r.count("prompt_tokens"), completionTokens: try r.count("completion_tokens"),
                            costUSD: try r.presentCost("cost_usd"), error: try r.presentText("error", max: Self.maxTextLength))
        if let s = run.startedAt, let f = run.finishedAt {
            guard f >= s else { throw RecordError("out_of_range", "finished_at is before started_at.") }
            if run.durationMs == nil { run.durationMs = (f.micros - s.micros) / 1000 }
        }
        try r.finish()
        return run
    }

    func message(_ r: inout FieldReader) throws(RecordError) -> MessageRecord {
        let m = MessageRecord(messageID: try r.id("message_id"), threadID: try r.id("thread_id"),
                              userID: try r.optionalID("user_id"), createdAt: try r.requiredTime("created_at"))
        try r.finish()
        return m
    }

    func llmCall(_ r: inout FieldReader) throws(RecordError) -> LLMCallRecord {
        let c = LLMCallRecord(id: try r.id("id"), ts: try r.requiredTime("ts"), orgID: try r.optionalID("org_id"),
                              runID: try r.optionalID("run_id"), provider: try r.requiredText("provider", max: 100),
                              model: try r.requiredText("model", max: 200), promptTokens: try r.count("prompt_tokens"),
                              completionTokens: try r.count("completion_tokens"), latencyMs: try r.count("latency_ms"),
                              status: try r.text("status", max: 32), errorCode: try r.text("error_code", max: 200),
                              costUSD: try r.presentCost("cost_usd") ?? nil)
        try r.finish()
        return c
    }

    func heartbeat(_ r: inout FieldReader) throws(RecordError) -> HeartbeatRecord {
        let typeText = try r.requiredText("component_type", max: 32)
        guard let type = HeartbeatRecord.ComponentType(rawValue: typeText) else {
            throw RecordError("invalid_field", "Field 'component_type' must be one of worker, model, service, queue.")
        }
        let h = HeartbeatRecord(component: try r.id("component"), componentType: type,
                                status: try r.requiredText("status", max: 32), ts: try r.requiredTime("ts"),
                                metrics: try r.metrics("metrics"))
        try r.finish()
        return h
    }
}

/// Reads typed fields from a record and remembers which ones it read, so that `finish()`
/// can refuse unknown fields (a misspelt field must not be dropped silently).
struct FieldReader {
    let object: JSONObject
    let now: UTCTime
    var read: Set<String> = ["kind"]

    init(object: JSONObject, now: UTCTime) {
        self.object = object
        self.now = now
    }

    /// The value, or nil when absent or JSON null.
    mutating func value(_ name: String) -> JSON? {
        read.insert(name)
        guard let v = object[name], v != .null else { return nil }
        return v
    }

    mutating func id(_ name: String) throws(RecordError) -> String {
        guard let v = try optionalID(name) else { throw RecordError("missing_field", "Field '\(name)' is required.") }
        return v
    }

    /// Ids are strings; an integer is accepted and kept as its decimal string.
    mutating func optionalID(_ name: String) throws(RecordError) -> String? {
        guard let v = value(name) else { return nil }
        let s: String
        switch v {
        case .string(let text): s = text
        case .int(let i): s = String(i)
        default: throw RecordError("invalid_field", "Field '\(name)' must be a string or an integer, not \(v.typeName).")
        }
        guard !s.isEmpty, s.utf8.count <= RecordValidator.maxIDLength else {
            throw RecordError("invalid_field", "Field '\(name)' must be 1 to \(RecordValidator.maxIDLength) bytes long.")
        }
        return s
    }

    mutating func text(_ name: String, max: Int) throws(RecordError) -> String? {
        guard let v = value(name) else { return nil }
        guard let s = v.stringValue else {
            throw RecordError("invalid_field", "Field '\(name)' must be a string, not \(v.typeName).")
        }
        guard s.utf8.count <= max else {
            throw RecordError("invalid_field", "Field '\(name)' is longer than \(max) bytes.")
        }
        return s
    }

    mutating func requiredText(_ name: String, max: Int) throws(RecordError) -> String {
        guard let s = try text(name, max: max), !s.isEmpty else {
            throw RecordError("missing_field", "Field '\(name)' is required.")
        }
        return s
    }

    /// nil when absent; .some(nil) when sent as null (explicitly cleared).
    mutating func presentText(_ name: String, max: Int) throws(RecordError) -> String?? {
        guard object[name] != nil else { read.insert(name); return nil }
        return .some(try text(name, max: max))
    }

    mutating func time(_ name: String) throws(RecordError) -> UTCTime? {
        guard let v = value(name) else { return nil }
        guard let s = v.stringValue else {
            throw RecordError("invalid_timestamp", "Field '\(name)' must be an RFC 3339 string like 2026-11-22T03:01:00Z.")
        }
        let t: UTCTime
        do {
            t = try UTCTime.parse(s)
        } catch .missingOffset {
            throw RecordError("invalid_timestamp", "Field '\(name)' has no UTC offset; add Z or +HH:MM (2026-11-22T03:01:00Z).")
        } catch .outOfRange {
            throw RecordError("invalid_timestamp", "Field '\(name)' is not a real date or time.")
        } catch {
            throw RecordError("invalid_timestamp", "Field '\(name)' is not an RFC 3339 timestamp like 2026-11-22T03:01:00Z.")
        }
        guard t <= now.adding(seconds: RecordValidator.futureToleranceSeconds) else {
            throw RecordError("out_of_range", "Field '\(name)' is more than a day in the future.")
        }
        guard t.seconds >= 946_684_800 else {  // 2000-01-01
            throw RecordError("out_of_range", "Field '\(name)' is before the year 2000.")
        }
        return t
    }

    mutating func requiredTime(_ name: String) throws(RecordError) -> UTCTime {
        guard let t = try time(name) else { throw RecordError("missing_field", "Field '\(name)' is required.") }
        return t
    }

    /// A non-negative integer (milliseconds, tokens).
    mutating func count(_ name: String) throws(RecordError) -> Int64? {
        guard let v = value(name) else { return nil }
        guard let i = v.intValue else {
            throw RecordError("invalid_field", "Field '\(name)' must be an integer, not \(v.typeName).")
        }
        guard i >= 0 else { throw RecordError("out_of_range", "Field '\(name)' must not be negative.") }
        guard i <= 1_000_000_000_000 else { throw RecordError("out_of_range", "Field '\(name)' is implausibly large.") }
        return i
    }

    /// A cost in USD: absent → nil, null → .some(nil) (unknown), else a non-negative number.
    mutating func presentCost(_ name: String) throws(RecordError) -> Double?? {
        read.insert(name)
        guard let v = object[name] else { return nil }
        if v == .null { return .some(nil) }
        guard let d = v.doubleValue, d.isFinite else {
            throw RecordError("invalid_field", "Field '\(name)' must be a number or null, not \(v.typeName).")
        }
        guard d >= 0 else { throw RecordError("out_of_range", "Field '\(name)' must not be negative.") }
        guard d <= 1_000_000 else { throw RecordError("out_of_range", "Field '\(name)' is implausibly large.") }
        return .some(d)
    }

    mutating func metrics(_ name: String) throws(RecordError) -> JSON {
        guard let v = value(name) else { return .object(JSONObject()) }
        guard v.objectValue != nil else {
            throw RecordError("invalid_field", "Field '\(name)' must be an object, not \(v.typeName).")
        }
        guard v.serializedBytes().count <= 16_384 else {
            throw RecordError("invalid_field", "Field '\(name)' is larger than 16 KiB.")
        }
        return v
    }

    func finish() throws(RecordError) {
        if let unknown = object.keys.first(where: { !read.contains($0) }) {
            throw RecordError("unknown_field", "Unknown field '\(unknown.prefix(64))'.")
        }
    }
}

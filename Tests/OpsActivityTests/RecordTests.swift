import Testing
import OpsJSON
@testable import OpsActivity

private let now = try! UTCTime.parse("2026-11-22T12:00:00Z")
private let validator = RecordValidator(now: now)

private func validate(_ text: String) -> Result<IngestRecord, RecordError> {
    validator.validate(try! JSON.parse(text))
}

private func code(_ text: String) -> String? {
    if case .failure(let e) = validate(text) { return e.code }
    return nil
}

@Suite struct RecordValidatorTests {
    @Test func acceptsAFullRun() throws {
        let r = try validate(#"{"kind":"run","run_id":"r-1","agent_id":7,"user_id":"u","status":"success","created_at":"2026-11-22T10:00:00Z","started_at":"2026-11-22T10:00:01Z","finished_at":"2026-11-22T10:00:03.5Z","prompt_tokens":10,"completion_tokens":5,"cost_usd":null,"error":null}"#).get()
        guard case .run(let run) = r else { Issue.record("not a run"); return }
        #expect(run.agentID == "7", "an integer id is kept as its decimal string")
        #expect(run.durationMs == 2500, "duration is computed from the timestamps when absent")
        #expect(run.costUSD == .some(nil), "an explicit null cost is 'unknown', not 'absent'")
    }

    @Test func integerIDsBecomeStrings() throws {
        guard case .message(let m) = try validate(#"{"kind":"message","message_id":12,"thread_id":3,"created_at":"2026-11-22T10:00:00Z"}"#).get() else {
            Issue.record("not a message"); return
        }
        #expect(m.messageID == "12" && m.threadID == "3")
    }

    @Test func errorCodes() {
        #expect(code(#"[1]"#) == "invalid_record")
        #expect(code(#"{"run_id":"x"}"#) == "missing_field")
        #expect(code(#"{"kind":"rocket"}"#) == "unknown_kind")
        #expect(code(#"{"kind":"message","message_id":"m","thread_id":"t","created_at":"2026-11-22T10:00:00Z","colour":"red"}"#) == "unknown_field")
        #expect(code(#"{"kind":"message","message_id":"m","thread_id":"t","created_at":"2026-11-22T10:00:00"}"#) == "invalid_timestamp")
        #expect(code(#"{"kind":"message","message_id":"m","thread_id":"t","created_at":"2026-11-25T10:00:00Z"}"#) == "out_of_range")
        #expect(code(#"{"kind":"message","message_id":true,"thread_id":"t","created_at":"2026-11-22T10:00:00Z"}"#) == "invalid_field")
        #expect(code(#"{"kind":"run","run_id":"r","agent_id":"a","status":"done","created_at":"2026-11-22T10:00:00Z"}"#) == "invalid_field")
        #expect(code(#"{"kind":"run","run_id":"r","agent_id":"a","status":"success","created_at":"2026-11-22T10:00:00Z","duration_ms":-5}"#) == "out_of_range")
        #expect(code(#"{"kind":"run","run_id":"r","agent_id":"a","status":"success","created_at":"2026-11-22T10:00:00Z","cost_usd":"1"}"#) == "invalid_field")
        #expect(code(#"{"kind":"run","run_id":"r","agent_id":"a","status":"success","created_at":"2026-11-22T10:00:00Z","started_at":"2026-11-22T10:00:05Z","finished_at":"2026-11-22T10:00:01Z"}"#) == "out_of_range")
        #expect(code(#"{"kind":"heartbeat","component":"q","component_type":"toaster","status":"ok","ts":"2026-11-22T10:00:00Z"}"#) == "invalid_field")
        #expect(code(#"{"kind":"heartbeat","component":"q","component_type":"queue","status":"ok","ts":"2026-11-22T10:00:00Z","metrics":[1]}"#) == "invalid_field")
    }

    @Test func tooLongIDsAreRefused() {
        let id = String(repeating: "x", count: 201)
        #expect(code(#"{"kind":"message","message_id":"\#(id)","thread_id":"t","created_at":"2026-11-22T10:00:00Z"}"#) == "invalid_field")
    }

    @Test func hostileStringsAreKeptAsText() throws {
        let name = #"<script>alert(1)</script>'; DROP TABLE ops.runs;--"#
        guard case .agent(let a) = try validator.validate(["kind": "agent", "agent_id": "a", "name": .string(name)]).get() else {
            Issue.record("not an agent"); return
        }
        #expect(a.name == name)
    }
}

@Suite struct BatchParserTests {
    @Test func ndjsonSkipsBlankLinesAndKeepsBadLinesAsRecordErrors() throws {
        let body = Array("{\"a\":1}\n\n  \nnot json\n{\"b\":2}\n".utf8)
        let items = try BatchParser.parse(body, contentType: "application/x-ndjson")
        #expect(items.count == 3)
        if case .failure(let e) = items[1] { #expect(e.code == "invalid_json") } else { Issue.record("line 2 accepted") }
    }

    @Test func jsonArray() throws {
        #expect(try BatchParser.parse(Array("[{\"a\":1},{\"b\":2}]".utf8), contentType: "application/json").count == 2)
    }

    @Test func brokenArrayIsABodyError() {
        #expect(throws: BatchParser.BatchError.self) { try BatchParser.parse(Array("[{\"kind\":".utf8), contentType: "application/json") }
    }

    @Test func invalidUTF8IsABodyError() {
        #expect(throws: BatchParser.BatchError.self) { try BatchParser.parse([0x7B, 0xFF, 0x7D], contentType: nil) }
    }

    @Test func garbageIsABodyError() {
        #expect(throws: BatchParser.BatchError.self) { try BatchParser.parse(Array("hello\nworld".utf8), contentType: nil) }
        #expect(throws: BatchParser.BatchError.self) { try BatchParser.parse(Array("   ".utf8), contentType: nil) }
        #expect(throws: BatchParser.BatchError.self) { try BatchParser.parse(Array("42".utf8), contentType: "application/json") }
        #expect(throws: BatchParser.BatchError.self) { try BatchParser.parse(Array("\"text\"".utf8), contentType: nil) }
    }

    @Test func tooManyRecordsIs413() {
        let body = Array(String(repeating: "{}\n", count: BatchParser.maxRecords + 1).utf8)
        do {
            _ = try BatchParser.parse(body, contentType: nil)
            Issue.record("accepted \(BatchParser.maxRecords + 1) records")
        } catch {
            #expect(error.status == 413 && error.code == "too_many_records")
        }
    }
}

@Suite struct RunMergeTests {
    let t0 = try! UTCTime.parse("2026-11-22T10:00:00Z")

    func record(_ status: RunStatus, started: Bool = false, finished: Bool = false, cost: Double?? = nil) -> RunRecord {
        RunRecord(runID: "r", agentID: "a", userID: "u", status: status, createdAt: t0,
                  startedAt: started ? t0.adding(seconds: 1) : nil, finishedAt: finished ? t0.adding(seconds: 3) : nil,
                  costUSD: cost)
    }

    @Test func lifecyclePublishesOneEventPerStateChange() {
        let q = RunMerge.merge(stored: nil, incoming: record(.queued))
        #expect(q.changed && q.event == nil, "queued publishes nothing")
        let r = RunMerge.merge(stored: q.row, incoming: record(.running, started: true))
        #expect(r.event == "run_started")
        let s = RunMerge.merge(stored: r.row, incoming: record(.success, finished: true, cost: .some(0.25)))
        #expect(s.event == "run_success")
        #expect(s.row.startedAt == t0.adding(seconds: 1), "a field missing from a later record keeps its value")
        #expect(s.row.durationMs == 2000)
        #expect(s.row.costUSD == 0.25)
    }

    @Test func replayChangesNothing() {
        let s = RunMerge.merge(stored: nil, incoming: record(.success, started: true, finished: true, cost: .some(1)))
        let again = RunMerge.merge(stored: s.row, incoming: record(.success, started: true, finished: true, cost: .some(1)))
        #expect(!again.changed && again.event == nil)
    }

    @Test func neverMovesBackwards() {
        let s = RunMerge.merge(stored: nil, incoming: record(.success, started: true, finished: true))
        let late = RunMerge.merge(stored: s.row, incoming: record(.running, started: true))
        #expect(!late.changed && late.row.status == .success && late.event == nil)
    }

    @Test func failedAndCanceledEvents() {
        #expect(RunMerge.merge(stored: nil, incoming: record(.failed)).event == "run_failed")
        #expect(RunMerge.merge(stored: nil, incoming: record(.canceled)).event == nil)
    }

    @Test func agentCreatedThenUpdatedThenReplayed() {
        let a = AgentRecord(agentID: "a", name: "A", schedule: "0 * * * *")
        let c = AgentMerge.merge(stored: nil, incoming: a)
        #expect(c.event == "agent_created")
        #expect(AgentMerge.merge(stored: c.row, incoming: a).event == nil)
        var renamed = a
        renamed.name = "B"
        #expect(AgentMerge.merge(stored: c.row, incoming: renamed).event == "agent_updated")
    }
}

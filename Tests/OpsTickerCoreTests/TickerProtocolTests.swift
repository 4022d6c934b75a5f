import Testing
import OpsJSON
@testable import OpsTickerCore

@Suite struct TickerProtocolTests {
    @Test func subscribeWithAndWithoutSince() {
        #expect(TickerProtocol.parse(#"{"type":"subscribe","topics":["ops:events"]}"#) == .success(.subscribe(topics: ["ops:events"], since: nil)))
        #expect(TickerProtocol.parse(#"{"type":"subscribe","topics":["ops:events"],"since":42}"#) == .success(.subscribe(topics: ["ops:events"], since: 42)))
    }

    @Test func unknownTopicIsAnErrorNotADisconnect() {
        guard case .failure(let e) = TickerProtocol.parse(#"{"type":"subscribe","topics":["ops:secrets"]}"#) else {
            Issue.record("unknown topic accepted"); return
        }
        #expect(e.code == "unknown_topic")
        #expect(e.message.contains("ops:events"), "the message lists the topics that exist")
    }

    @Test(arguments: ["", "not json", "[]", #"{"type":"dance"}"#, #"{"type":"subscribe"}"#, #"{"type":"subscribe","topics":[]}"#,
                      #"{"type":"subscribe","topics":[1]}"#, #"{"type":"subscribe","topics":["ops:events"],"since":-1}"#,
                      #"{"type":"subscribe","topics":["ops:events"],"since":"x"}"#])
    func malformedMessagesAreBadMessage(_ text: String) {
        guard case .failure(let e) = TickerProtocol.parse(text) else { Issue.record("\(text) accepted"); return }
        #expect(e.code == "bad_message")
    }

    @Test func oversizedMessageIsRefused() {
        let big = #"{"type":"ping","pad":""# + String(repeating: "x", count: 5000) + #""}"#
        guard case .failure(let e) = TickerProtocol.parse(big) else { Issue.record("accepted"); return }
        #expect(e.code == "bad_message")
    }

    @Test func envelopeHasTheSpecFields() throws {
        let frame = try JSON.parse(TickerProtocol.eventFrame(id: 7, tsMillis: 1_712_345_678_901, data: ["type": "run_success", "run_id": "r"]))
        #expect(frame["v"] == 1)
        #expect(frame["type"] == "ops_event")
        #expect(frame["topic"] == "ops:events")
        #expect(frame["ts"] == 1_712_345_678_901)
        #expect(frame["data"]?["type"] == "run_success")
    }

    @Test func errorAndAckFrames() throws {
        let e = try JSON.parse(TickerProtocol.errorFrame(code: "forbidden", message: "admins only"))
        #expect(e["type"] == "error" && e["error"]?["code"] == "forbidden")
        let a = try JSON.parse(TickerProtocol.subscribedFrame(topics: ["ops:events"], lastEventID: 9))
        #expect(a["type"] == "subscribed" && a["last_event_id"] == 9)
    }
}

@Suite struct BoundedQueueTests {
    @Test func dropsOldestWhenFullAndCounts() {
        var q = BoundedQueue<Int>(capacity: 3)
        for i in 1...5 { q.push(i) }
        #expect(q.count == 3)
        #expect(q.dropped == 2)
        #expect([q.pop(), q.pop(), q.pop(), q.pop()] == [3, 4, 5, nil])
    }

    @Test func fifoWithoutDrops() {
        var q = BoundedQueue<String>(capacity: 200)
        for i in 0..<150 { q.push("f\(i)") }
        #expect(q.dropped == 0)
        #expect(q.pop() == "f0")
        #expect(q.count == 149)
    }

    @Test func wrapsAroundManyTimes() {
        var q = BoundedQueue<Int>(capacity: 4)
        var out: [Int] = []
        for i in 0..<1000 {
            q.push(i)
            if i % 2 == 0, let v = q.pop() { out.append(v) }
        }
        #expect(out == out.sorted(), "order is kept across wrap-around")
        #expect(q.count == 4)
    }
}

import OpsJSON
import OpsMonitorCore
import Testing

@Suite struct HealthStatusRuleTests {
    @Test func statusFromOutcome() {
        func status(_ r: ProbeResult) -> HealthStatus { HealthStatusRule.status(of: r, degradedMillis: 500) }
        #expect(status(ProbeResult(outcome: .ok, responseMillis: 12)) == .healthy)
        #expect(status(ProbeResult(outcome: .ok, responseMillis: 500)) == .healthy)
        #expect(status(ProbeResult(outcome: .ok, responseMillis: 501)) == .degraded)
        #expect(status(ProbeResult(outcome: .ok)) == .healthy)
        #expect(status(ProbeResult(outcome: .impaired)) == .degraded)
        #expect(status(.failed("HTTP 500", responseMillis: 3)) == .down)
        #expect(status(.timedOut("no answer")) == .down)
        #expect(status(ProbeResult(outcome: .noData)) == .unknown)
    }

    @Test func messagesSayWhy() {
        let slow = ProbeResult(outcome: .ok, responseMillis: 812.4)
        #expect(HealthStatusRule.message(of: slow, status: .degraded, degradedMillis: 500) == "slow: 812 ms > 500 ms")
        #expect(HealthStatusRule.message(of: ProbeResult(outcome: .ok, responseMillis: 3), status: .healthy, degradedMillis: 500) == nil)
        #expect(HealthStatusRule.message(of: .failed("HTTP 503"), status: .down, degradedMillis: 500) == "HTTP 503")
        #expect(ProbeResult.timedOut("x").failureType == "timeout")
        #expect(ProbeResult.failed("x").failureType == "probe_failed")
    }
}

@Suite struct HealthServiceConfigTests {
    @Test func thresholdsParseWithDefaults() throws {
        let c = try MonitorConfig.parse("""
            {"services":[
              {"name":"w","kind":"heartbeat","target":"worker","interval_s":10},
              {"name":"w2","kind":"heartbeat","target":"worker","interval_s":60,"thresholds":{"stale_s":45}},
              {"name":"h","kind":"http","target":"http://127.0.0.1:1/","thresholds":{"expect_status":[200,401],"degraded_ms":50}},
              {"name":"h2","kind":"http","target":"http://127.0.0.1:1/","thresholds":{"expect_status":204}}]}
            """)
        #expect(c.services[0].staleAfterSeconds == 90)     // 3 × 10 s is under the 90 s floor
        #expect(c.services[1].staleAfterSeconds == 45)
        #expect(c.services[2].acceptsStatus(401) && !c.services[2].acceptsStatus(204) && c.services[2].degradedMillis == 50)
        #expect(c.services[3].acceptsStatus(204) && !c.services[3].acceptsStatus(200))
        let plain = ServiceConfig(name: "p", kind: .http, target: "http://x/")
        #expect(plain.acceptsStatus(200) && plain.acceptsStatus(299) && !plain.acceptsStatus(301) && !plain.acceptsStatus(500))
        #expect(ServiceConfig(name: "x", kind: .heartbeat, target: "queue", intervalSeconds: 120).staleAfterSeconds == 360)
        #expect(plain.thresholdsJSON == .object(JSONObject([("degraded_ms", .double(500)), ("expect_status", .string("2xx"))])))
    }

    @Test func badThresholdsNameThePath() {
        func error(_ t: String) -> String {
            do { _ = try MonitorConfig.parse(#"{"services":[{"name":"a","kind":"http","target":"http://x/","thresholds":"# + t + "}]}"); return "" }
            catch { return error.description }
        }
        #expect(error(#"{"expect_status":99}"#).hasPrefix("services[0].thresholds.expect_status:"))
        #expect(error(#"{"expect_status":[]}"#).hasPrefix("services[0].thresholds.expect_status:"))
        #expect(error(#"{"expect_status":"200"}"#).hasPrefix("services[0].thresholds.expect_status:"))
        #expect(error(#"{"stale_s":0}"#).hasPrefix("services[0].thresholds.stale_s:"))
        #expect(error(#"{"degraded":1}"#).hasPrefix("services[0].thresholds.degraded: unknown key"))
    }
}

@Suite struct HealthTargetTests {
    @Test func parsesSocketTargets() {
        #expect(ProbeAddress.parse("127.0.0.1:6379") == ProbeAddress(host: "127.0.0.1", port: 6379))
        #expect(ProbeAddress.parse("[::1]:80") == ProbeAddress(host: "::1", port: 80))
        #expect(ProbeAddress.parse("redis://:p%40ss@cache:6380/2") == ProbeAddress(host: "cache", port: 6380, password: "p@ss"))
        #expect(ProbeAddress.parse("redis://default:pw@cache:6380") == ProbeAddress(host: "cache", port: 6380, password: "pw", user: "default"))
        #expect(ProbeAddress.parse("localhost") == nil)
        #expect(ProbeAddress.parse("host:0") == nil)
        #expect(ProbeAddress.parse("host:99999") == nil)
        #expect(ProbeAddress.parse("http://host:80") == nil)
        #expect(ProbeAddress.parse(":80") == nil)
    }
}

@Suite struct HealthHeartbeatTests {
    static let now = 1_000_000.0
    static func member(_ name: String, _ status: String = "ok", age: Double) -> HeartbeatMember {
        HeartbeatMember(component: name, status: status, time: now - age, metrics: .object(JSONObject([("depth", .int(3))])))
    }

    @Test func healthyStaleAndDown() {
        let fresh = HeartbeatEvaluator.evaluate([Self.member("worker-1", age: 5), Self.member("worker-2", "busy", age: 20)], now: Self.now, staleAfterSeconds: 90)
        #expect(fresh.outcome == .ok)
        #expect(fresh.metrics["components"] == .int(2) && fresh.metrics["stale"] == .int(0))
        #expect(fresh.metrics["oldest_age_s"] == .double(20))
        #expect(fresh.metrics["members"]?[1]?["metrics"]?["depth"] == .int(3))

        let some = HeartbeatEvaluator.evaluate([Self.member("worker-1", age: 5), Self.member("worker-2", age: 200)], now: Self.now, staleAfterSeconds: 90)
        #expect(some.outcome == .impaired)
        #expect(some.message == "1 of 2 stale (worker-2)")
        #expect(some.metrics["stale"] == .int(1))

        let all = HeartbeatEvaluator.evaluate([Self.member("model-embeddings", age: 300)], now: Self.now, staleAfterSeconds: 90)
        #expect(all.outcome == .failed && all.failureType == "stale")
        #expect(all.message == "model-embeddings: no heartbeat for 300 s (stale after 90 s)")
    }

    @Test func pushedStatusCounts() {
        let degraded = HeartbeatEvaluator.evaluate([Self.member("queue-1", "Degraded", age: 1), Self.member("queue-2", age: 1)], now: Self.now, staleAfterSeconds: 90)
        #expect(degraded.outcome == .impaired && degraded.message == "1 of 2 degraded")
        let oneDown = HeartbeatEvaluator.evaluate([Self.member("queue-1", "down", age: 1), Self.member("queue-2", age: 1)], now: Self.now, staleAfterSeconds: 90)
        #expect(oneDown.outcome == .impaired)
        let selfDown = HeartbeatEvaluator.evaluate([Self.member("queue-1", "failed", age: 1)], now: Self.now, staleAfterSeconds: 90)
        #expect(selfDown.outcome == .failed && selfDown.failureType == "probe_failed")
    }

    @Test func nobodyPushedIsUnknown() {
        let r = HeartbeatEvaluator.evaluate([], now: Self.now, staleAfterSeconds: 90)
        #expect(r.outcome == .noData)
        #expect(HealthStatusRule.status(of: r, degradedMillis: 500) == .unknown)
        #expect(r.metrics["components"] == .int(0))
    }

    @Test func membersListIsCapped() {
        let many = (0..<250).map { Self.member("w-\($0)", age: 1) }
        let r = HeartbeatEvaluator.evaluate(many, now: Self.now, staleAfterSeconds: 90)
        #expect(r.metrics["components"] == .int(250))
        #expect(r.metrics["members"]?.arrayValue?.count == HeartbeatEvaluator.maxMembersListed)
    }
}

@Suite struct HealthRedisTests {
    @Test func encodesCommands() {
        #expect(String(decoding: RedisProtocol.command(["AUTH", "pw"]), as: UTF8.self) == "*2\r\n$4\r\nAUTH\r\n$2\r\npw\r\n")
    }

    @Test func parsesReplies() throws {
        func parse(_ s: String) throws -> RedisProtocol.Reply? { try RedisProtocol.parse(Array(s.utf8))?.0 }
        #expect(try parse("+PONG\r\n") == .simple("PONG"))
        #expect(try parse("-NOAUTH Authentication required.\r\n") == .error("NOAUTH Authentication required."))
        #expect(try parse(":42\r\n") == .integer(42))
        #expect(try parse("$5\r\nhello\r\n") == .bulk(Array("hello".utf8)))
        #expect(try parse("$-1\r\n") == .bulk(nil))
        #expect(try parse("*2\r\n+a\r\n:1\r\n") == .array([.simple("a"), .integer(1)]))
        // Incomplete: more bytes needed.
        #expect(try parse("$5\r\nhel") == nil)
        #expect(try parse("+PON") == nil)
        #expect(try parse("*2\r\n+a\r\n") == nil)
        #expect(throws: RedisProtocol.ParseError.self) { _ = try RedisProtocol.parse(Array("?x\r\n".utf8)) }
        // Bytes used, so a reader knows where the next reply starts.
        #expect(try RedisProtocol.parse(Array("+OK\r\n+PONG\r\n".utf8))?.1 == 5)
    }

    @Test func infoBecomesContractMetrics() {
        let text = "# Server\r\nredis_version:7.0.15\r\n\r\n# Clients\r\nconnected_clients:3\r\n# Memory\r\nused_memory:1048576\r\nmaxmemory:67108864\r\n# Stats\r\ninstantaneous_ops_per_sec:12\r\nkeyspace_hits:90\r\nkeyspace_misses:10\r\nevicted_keys:4\r\n"
        let m = RedisInfo.metrics(RedisInfo.parse(text))
        #expect(m["hit_rate"] == .double(0.9))
        #expect(m["keyspace_hits"] == .int(90) && m["keyspace_misses"] == .int(10))
        #expect(m["used_memory_bytes"] == .int(1_048_576) && m["maxmemory_bytes"] == .int(67_108_864))
        #expect(m["evicted_keys"] == .int(4) && m["connected_clients"] == .int(3) && m["ops_per_sec"] == .int(12))
        #expect(RedisInfo.metrics(RedisInfo.parse("keyspace_hits:0\nkeyspace_misses:0\n"))["hit_rate"] == .null)
    }
}

import OpsJSON
import OpsMonitorCore
import Testing

@Suite struct AlertConfigTests {
    func parse(_ text: String) throws -> AlertConfig {
        try MonitorConfig.parse(#"{"alerts": \#(text)}"#).alerts
    }

    func error(_ text: String) -> String {
        do { _ = try parse(text); return "" } catch { return "\(error)" }
    }

    @Test func defaultsAreTheIssuesRules() throws {
        let c = try parse("{}")
        #expect(c == .defaults)
        let byName = Dictionary(uniqueKeysWithValues: c.rules.map { ($0.name, $0) })
        #expect(byName["error_rate"]?.threshold == 5 && byName["error_rate"]?.comparator == .greater)
        #expect(byName["error_rate"]?.minRequests == 20)
        #expect(byName["latency_p95"]?.threshold == 500)
        #expect(byName["queue_depth"]?.threshold == 100)
        #expect(byName["disk_usage"]?.threshold == 80)
        #expect(byName["db_connections"]?.threshold == 80)
        #expect(byName["db_cache_hit_ratio"]?.threshold == 99 && byName["db_cache_hit_ratio"]?.comparator == .less)
        #expect(byName["service_down"]?.severity == .critical)
        #expect(byName["budget_user"]?.threshold == 80 && byName["budget_user"]?.criticalThreshold == 100)
        #expect(byName["budget_global"]?.severity(for: 85) == .warning && byName["budget_global"]?.severity(for: 100) == .critical)
        #expect(byName["error_spike"]?.severity == .warning)
        #expect(c.failureThreshold == 3 && c.failureWindow == 3 && c.successThreshold == 2)
        #expect(c.policy(for: byName["disk_usage"]!) == AlertHysteresisPolicy(failureThreshold: 3, failureWindow: 3, successThreshold: 2))
    }

    @Test func rulesOverrideDisableAndAdd() throws {
        let c = try parse("""
            {"interval_s": 2, "failure_threshold": 2, "failure_window": 4, "success_threshold": 3,
             "rules": [{"name": "disk_usage", "threshold": 90, "severity": "critical", "critical_threshold": null},
                       {"name": "queue_depth", "enabled": false},
                       {"name": "slow_api", "metric": "latency_p95", "threshold": 2000, "failure_threshold": 5,
                        "subjects": ["api"]}],
             "discord": {"timeout_ms": 2000, "claim_s": 10, "max_backoff_s": 60}}
            """)
        #expect(c.intervalSeconds == 2)
        let disk = c.rules.first { $0.name == "disk_usage" }!
        #expect(disk.threshold == 90 && disk.severity == .critical && disk.criticalThreshold == nil)
        #expect(c.rules.first { $0.name == "queue_depth" }?.enabled == false)
        #expect(!c.activeRules.contains { $0.name == "queue_depth" })
        let slow = c.rules.first { $0.name == "slow_api" }!
        #expect(slow.metric == .latencyP95 && slow.threshold == 2000 && slow.minRequests == 20 && slow.subjects == ["api"])
        // A rule's own threshold without a window counts consecutive breaches.
        #expect(c.policy(for: slow) == AlertHysteresisPolicy(failureThreshold: 5, failureWindow: 5, successThreshold: 3))
        #expect(c.policy(for: disk) == AlertHysteresisPolicy(failureThreshold: 2, failureWindow: 4, successThreshold: 3))
        #expect(c.delivery == DeliveryConfig(timeoutMillis: 2000, claimSeconds: 10, maxBackoffSeconds: 60))
        #expect(c.rules.count == AlertRule.defaults.count + 1)
    }

    @Test func defaultRulesCanBeLeftOut() throws {
        let c = try parse(#"{"default_rules": false, "rules": [{"name": "service_down"}, {"name": "q", "metric": "queue_depth", "threshold": 5}]}"#)
        #expect(c.rules.map(\.name) == ["service_down", "q"])
        #expect(c.rules[1].metric == .queueDepth && c.rules[1].threshold == 5 && c.rules[1].severity == .warning)
    }

    @Test func errorsNameThePath() {
        #expect(error(#"{"rulez": []}"#).hasPrefix("alerts.rulez: unknown key"))
        #expect(error(#"{"rules": [{"name": "x"}]}"#).hasPrefix("alerts.rules[0].metric: required"))
        #expect(error(#"{"rules": [{"name": "x", "metric": "cpu"}]}"#).hasPrefix("alerts.rules[0].metric:"))
        #expect(error(#"{"rules": [{"name": "disk_usage", "comparator": "=="}]}"#).hasPrefix("alerts.rules[0].comparator:"))
        #expect(error(#"{"rules": [{"name": "disk_usage", "severity": "fatal"}]}"#).hasPrefix("alerts.rules[0].severity:"))
        #expect(error(#"{"rules": [{"name": "disk_usage"}, {"name": "disk_usage"}]}"#).contains("duplicate rule"))
        #expect(error(#"{"rules": [{"name": "bad name!", "metric": "disk_usage"}]}"#).hasPrefix("alerts.rules[0].name:"))
        #expect(error(#"{"rules": [{"name": "disk_usage", "subjects": []}]}"#).hasPrefix("alerts.rules[0].subjects:"))
        #expect(error(#"{"failure_threshold": 3, "failure_window": 2}"#).hasPrefix("alerts.failure_window:"))
        #expect(error(#"{"failure_threshold": 0}"#).hasPrefix("alerts.failure_threshold:"))
        #expect(error(#"{"discord": {"timeout_ms": 20000, "claim_s": 30}}"#).hasPrefix("alerts.discord.claim_s:"))
        #expect(error(#"{"rules": [{"name": "error_spike", "threshold": 0}]}"#).hasPrefix("alerts.rules[0].threshold:"))
    }
}

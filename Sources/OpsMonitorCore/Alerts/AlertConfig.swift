import OpsJSON

/// The `alerts` section of the monitor configuration:
///
///     {"interval_s": 5, "failure_threshold": 3, "failure_window": 5, "success_threshold": 2,
///      "default_rules": true,
///      "rules": [{"name": "disk_usage", "threshold": 90}, {"name": "queue_depth", "enabled": false},
///                {"name": "slow_api", "metric": "latency_p95", "threshold": 2000, "severity": "critical"}],
///      "discord": {"timeout_ms": 10000, "claim_s": 30, "max_backoff_s": 300}}
///
/// Every key is optional. A rule entry named like a default rule changes that rule; another
/// name adds a rule (`metric` required). `default_rules: false` keeps only the listed rules.
public struct AlertConfig: Sendable, Equatable {
    /// Seconds between two evaluations of every rule (a breach is seen within one interval).
    public var intervalSeconds: Double
    /// Breaches before an alert fires: in a row, or within the last `failureWindow` evaluations.
    public var failureThreshold: Int
    /// "X of the last Y": Y. Equal to `failureThreshold` (the default) means consecutive.
    public var failureWindow: Int
    /// Good evaluations in a row before it resolves.
    public var successThreshold: Int
    public var rules: [AlertRule]
    public var delivery: DeliveryConfig

    public init(intervalSeconds: Double = 5, failureThreshold: Int = 3, failureWindow: Int? = nil,
                successThreshold: Int = 2, rules: [AlertRule] = AlertRule.defaults, delivery: DeliveryConfig = DeliveryConfig()) {
        self.intervalSeconds = intervalSeconds
        self.failureThreshold = failureThreshold
        self.failureWindow = failureWindow ?? failureThreshold
        self.successThreshold = successThreshold
        self.rules = rules
        self.delivery = delivery
    }

    public static let defaults = AlertConfig()

    /// The rules that are switched on.
    public var activeRules: [AlertRule] { rules.filter(\.enabled) }

    /// The hysteresis of one rule: its own overrides, else the section's.
    public func policy(for rule: AlertRule) -> AlertHysteresisPolicy {
        let threshold = rule.failureThreshold ?? failureThreshold
        // A rule that sets its own threshold without a window counts consecutive breaches.
        let window = rule.failureWindow ?? (rule.failureThreshold != nil ? threshold : failureWindow)
        return AlertHysteresisPolicy(failureThreshold: threshold, failureWindow: max(window, threshold),
                                successThreshold: rule.successThreshold ?? successThreshold)
    }

    static let keys = ["interval_s", "failure_threshold", "failure_window", "success_threshold", "default_rules", "rules", "discord"]

    static func parse(_ json: JSON, path: String) throws(MonitorConfigError) -> AlertConfig {
        let r = try ConfigReader(json, path: path, allowed: keys)
        var c = AlertConfig.defaults
        if let v = try r.double("interval_s", 0.2...600) { c.intervalSeconds = v }
        if let v = try r.int("failure_threshold", 1...100) { c.failureThreshold = v }
        c.failureWindow = try r.int("failure_window", 1...100) ?? c.failureThreshold
        guard c.failureWindow >= c.failureThreshold else {
            throw MonitorConfigError(path: "\(path).failure_window", message: "must be at least failure_threshold (\(c.failureThreshold))")
        }
        if let v = try r.int("success_threshold", 1...100) { c.successThreshold = v }
        let keepDefaults = try r.bool("default_rules") ?? true
        var rules = keepDefaults ? AlertRule.defaults : []
        if let list = r.object["rules"], !list.isNull {
            guard let items = list.arrayValue else {
                throw MonitorConfigError(path: "\(path).rules", message: "expected an array")
            }
            var seen = Set<String>()
            for (i, item) in items.enumerated() {
                let itemPath = "\(path).rules[\(i)]"
                let name = (item["name"]?.stringValue) ?? ""
                let base = AlertRule.defaults.first { $0.name == name }
                let rule = try AlertRule.parse(item, path: itemPath, base: base)
                guard seen.insert(rule.name).inserted else {
                    throw MonitorConfigError(path: "\(itemPath).name", message: "duplicate rule \"\(rule.name)\"")
                }
                if let policyWindow = rule.failureWindow, policyWindow < (rule.failureThreshold ?? c.failureThreshold) {
                    throw MonitorConfigError(path: "\(itemPath).failure_window", message: "must be at least the failure threshold")
                }
                if let at = rules.firstIndex(where: { $0.name == rule.name }) { rules[at] = rule } else { rules.append(rule) }
            }
        }
        c.rules = rules
        if let d = r.object["discord"], !d.isNull {
            c.delivery = try DeliveryConfig.parse(d, path: "\(path).discord")
        }
        return c
    }
}

/// How the outbox sender talks to the webhook.
public struct DeliveryConfig: Sendable, Equatable {
    /// A request that takes longer counts as failed and is retried.
    public var timeoutMillis: Int
    /// How long a claimed row belongs to one monitor; longer than a request can take, so a
    /// claim never expires while its request is still in flight.
    public var claimSeconds: Int
    /// The retry backoff's cap.
    public var maxBackoffSeconds: Double

    public init(timeoutMillis: Int = 10_000, claimSeconds: Int = 30, maxBackoffSeconds: Double = 300) {
        self.timeoutMillis = timeoutMillis
        self.claimSeconds = claimSeconds
        self.maxBackoffSeconds = maxBackoffSeconds
    }

    static func parse(_ json: JSON, path: String) throws(MonitorConfigError) -> DeliveryConfig {
        let r = try ConfigReader(json, path: path, allowed: ["timeout_ms", "claim_s", "max_backoff_s"])
        var d = DeliveryConfig()
        if let v = try r.int("timeout_ms", 100...60_000) { d.timeoutMillis = v }
        if let v = try r.int("claim_s", 5...600) { d.claimSeconds = v }
        if let v = try r.double("max_backoff_s", 1...3600) { d.maxBackoffSeconds = v }
        guard Double(d.claimSeconds) * 1000 >= Double(d.timeoutMillis) * 2 else {
            throw MonitorConfigError(path: "\(path).claim_s", message: "must be at least twice timeout_ms, so a claim outlives its request")
        }
        return d
    }
}

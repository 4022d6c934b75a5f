import OpsJSON

/// Alert severities, ordered: an open alert only ever escalates.
public enum AlertSeverity: String, Sendable, CaseIterable, Comparable {
    case info, warning, critical

    public var rank: Int {
        switch self {
        case .info: return 0
        case .warning: return 1
        case .critical: return 2
        }
    }
    public static func < (a: AlertSeverity, b: AlertSeverity) -> Bool { a.rank < b.rank }
}

/// What a rule measures. Each metric reads one source of the monitor's data and yields one
/// value per subject (the API as a whole, a queue, a directory, a service, a user…).
public enum AlertMetric: String, Sendable, CaseIterable {
    /// API 5xx share in percent over the last 5 minutes (ops.api_minutes).
    case errorRate = "error_rate"
    /// API p95 latency in ms over the last 5 minutes (ops.api_minutes histograms).
    case latencyP95 = "latency_p95"
    /// `metrics.depth` of each queue's latest heartbeat.
    case queueDepth = "queue_depth"
    /// Used percentage of the root filesystem and of each data directory's filesystem.
    case diskUsage = "disk_usage"
    /// Connections in percent of max_connections, per postgres service.
    case dbConnections = "db_connections"
    /// Buffer cache hit ratio in percent, per postgres service.
    case dbCacheHitRatio = "db_cache_hit_ratio"
    /// 1 while a service's status is `down`, else 0.
    case serviceDown = "service_down"
    /// Today's (UTC) spend per user in percent of DAILY_COST_PER_USER_CENTS.
    case budgetUser = "budget_user"
    /// Today's spend of everyone in percent of DAILY_COST_GLOBAL_CENTS.
    case budgetGlobal = "budget_global"
    /// Runs started today per user in percent of DAILY_RUNS_PER_USER.
    case budgetRuns = "budget_runs"
    /// Failed runs in the last 5 minutes against a median/MAD baseline of the 24 windows before.
    case errorSpike = "error_spike"

    /// The unit of its values, for notifications.
    public var unit: String {
        switch self {
        case .errorRate, .diskUsage, .dbConnections, .dbCacheHitRatio, .budgetUser, .budgetGlobal, .budgetRuns: return "%"
        case .latencyP95: return "ms"
        case .queueDepth: return "jobs"
        case .serviceDown: return ""
        case .errorSpike: return "failed runs"
        }
    }

    /// Which data the metric needs (one query per source and evaluation).
    public var source: AlertSource {
        switch self {
        case .errorRate, .latencyP95: return .api
        case .queueDepth: return .queues
        case .diskUsage: return .disk
        case .dbConnections, .dbCacheHitRatio, .serviceDown: return .services
        case .budgetUser, .budgetGlobal, .budgetRuns: return .budget
        case .errorSpike: return .failures
        }
    }
}

public enum AlertSource: String, Sendable, CaseIterable {
    case api, queues, disk, services, budget, failures
}

public enum AlertComparator: String, Sendable, CaseIterable {
    case greater = ">", greaterOrEqual = ">=", less = "<", lessOrEqual = "<="

    public func breached(_ value: Double, _ threshold: Double) -> Bool {
        switch self {
        case .greater: return value > threshold
        case .greaterOrEqual: return value >= threshold
        case .less: return value < threshold
        case .lessOrEqual: return value <= threshold
        }
    }
}

/// One alert rule: `{"name":"disk_usage","metric":"disk_usage","comparator":">","threshold":80,
/// "critical_threshold":95,"severity":"warning","enabled":true,"failure_threshold":3,
/// "failure_window":5,"success_threshold":2,"subjects":["postgres"]}`. A rule named like a
/// default rule starts from that default; any other name needs `metric` (and is a second rule
/// on the same data, with its own dedupe keys `name:subject`).
public struct AlertRule: Sendable, Equatable {
    public var name: String
    public var metric: AlertMetric
    public var comparator: AlertComparator
    /// The value that breaches (for error_spike: how many robust deviations above the median).
    public var threshold: Double
    /// Past this value the alert is critical (budgets: 100 %); nil = never escalates.
    public var criticalThreshold: Double?
    public var severity: AlertSeverity
    public var enabled: Bool
    /// Hysteresis overrides; nil = the section's values.
    public var failureThreshold: Int?
    public var failureWindow: Int?
    public var successThreshold: Int?
    /// Only these subjects (service, queue, directory, user…); nil = all.
    public var subjects: [String]?
    /// error_rate and latency_p95: fewer requests than this in the window is "not enough data".
    public var minRequests: Int
    /// error_spike: fewer failures than this never count as a spike.
    public var minCount: Int

    public init(name: String, metric: AlertMetric, comparator: AlertComparator, threshold: Double,
                criticalThreshold: Double? = nil, severity: AlertSeverity, enabled: Bool = true,
                failureThreshold: Int? = nil, failureWindow: Int? = nil, successThreshold: Int? = nil,
                subjects: [String]? = nil, minRequests: Int = 20, minCount: Int = 5) {
        self.name = name
        self.metric = metric
        self.comparator = comparator
        self.threshold = threshold
        self.criticalThreshold = criticalThreshold
        self.severity = severity
        self.enabled = enabled
        self.failureThreshold = failureThreshold
        self.failureWindow = failureWindow
        self.successThreshold = successThreshold
        self.subjects = subjects
        self.minRequests = minRequests
        self.minCount = minCount
    }

    /// The defaults of the issue: error rate > 5 %, p95 > 500 ms, queue > 100, disk > 80 %,
    /// connections > 80 % of max, cache hit ratio < 99 %, service down, budgets ≥ 80 % / 100 %,
    /// error spike.
    public static let defaults: [AlertRule] = [
        AlertRule(name: "error_rate", metric: .errorRate, comparator: .greater, threshold: 5, severity: .warning),
        AlertRule(name: "latency_p95", metric: .latencyP95, comparator: .greater, threshold: 500, severity: .warning),
        AlertRule(name: "queue_depth", metric: .queueDepth, comparator: .greater, threshold: 100, severity: .warning),
        AlertRule(name: "disk_usage", metric: .diskUsage, comparator: .greater, threshold: 80, criticalThreshold: 95,
                  severity: .warning),
        AlertRule(name: "db_connections", metric: .dbConnections, comparator: .greater, threshold: 80, severity: .warning),
        AlertRule(name: "db_cache_hit_ratio", metric: .dbCacheHitRatio, comparator: .less, threshold: 99, severity: .warning),
        AlertRule(name: "service_down", metric: .serviceDown, comparator: .greaterOrEqual, threshold: 1, severity: .critical),
        AlertRule(name: "budget_user", metric: .budgetUser, comparator: .greaterOrEqual, threshold: 80,
                  criticalThreshold: 100, severity: .warning),
        AlertRule(name: "budget_global", metric: .budgetGlobal, comparator: .greaterOrEqual, threshold: 80,
                  criticalThreshold: 100, severity: .warning),
        AlertRule(name: "budget_runs", metric: .budgetRuns, comparator: .greaterOrEqual, threshold: 80,
                  criticalThreshold: 100, severity: .warning),
        AlertRule(name: "error_spike", metric: .errorSpike, comparator: .greater, threshold: 5, severity: .warning),
    ]

    /// The severity of a breaching value: critical past `criticalThreshold`, else `severity`.
    public func severity(for value: Double) -> AlertSeverity {
        if let c = criticalThreshold, comparator.breached(value, c) { return .critical }
        return severity
    }

    public func covers(_ subject: String) -> Bool { subjects.map { $0.contains(subject) } ?? true }

    static let keys = ["name", "metric", "comparator", "threshold", "critical_threshold", "severity", "enabled",
                       "failure_threshold", "failure_window", "success_threshold", "subjects", "min_requests", "min_count"]

    /// Parses one entry of `alerts.rules`; `base` is the default rule of the same name, if any.
    static func parse(_ json: JSON, path: String, base: AlertRule?) throws(MonitorConfigError) -> AlertRule {
        let r = try ConfigReader(json, path: path, allowed: keys)
        let name = try r.requiredString("name")
        guard name.utf8.count <= 64, name.unicodeScalars.allSatisfy({ $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || $0 == "_" || $0 == "-") }) else {
            throw MonitorConfigError(path: "\(path).name", message: "use at most 64 of [A-Za-z0-9_-]")
        }
        var rule: AlertRule
        if let metricName = try r.string("metric") {
            guard let metric = AlertMetric(rawValue: metricName) else {
                throw MonitorConfigError(path: "\(path).metric", message: "\"\(metricName)\" is not one of \(AlertMetric.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            // A known metric under another name starts from that metric's default settings.
            let template = base?.metric == metric ? base! : AlertRule.defaults.first { $0.metric == metric }!
            rule = template
            rule.metric = metric
        } else if let base {
            rule = base
        } else {
            throw MonitorConfigError(path: "\(path).metric", message: "required for a rule that is not one of the defaults (\(AlertRule.defaults.map(\.name).joined(separator: ", ")))")
        }
        rule.name = name
        if let c = try r.string("comparator") {
            guard let comparator = AlertComparator(rawValue: c) else {
                throw MonitorConfigError(path: "\(path).comparator", message: "\"\(c)\" is not one of >, >=, <, <=")
            }
            rule.comparator = comparator
        }
        if let v = try r.double("threshold", -1e15...1e15) { rule.threshold = v }
        if r.object["critical_threshold"]?.isNull == true {
            rule.criticalThreshold = nil
        } else if let v = try r.double("critical_threshold", -1e15...1e15) {
            rule.criticalThreshold = v
        }
        if let s = try r.string("severity") {
            guard let severity = AlertSeverity(rawValue: s) else {
                throw MonitorConfigError(path: "\(path).severity", message: "\"\(s)\" is not one of info, warning, critical")
            }
            rule.severity = severity
        }
        if let v = try r.bool("enabled") { rule.enabled = v }
        if let v = try r.int("failure_threshold", 1...100) { rule.failureThreshold = v }
        if let v = try r.int("failure_window", 1...100) { rule.failureWindow = v }
        if let v = try r.int("success_threshold", 1...100) { rule.successThreshold = v }
        if let v = try r.int("min_requests", 0...1_000_000_000) { rule.minRequests = v }
        if let v = try r.int("min_count", 0...1_000_000_000) { rule.minCount = v }
        if let list = r.object["subjects"], !list.isNull {
            guard let items = list.arrayValue, !items.isEmpty else {
                throw MonitorConfigError(path: "\(path).subjects", message: "expected a non-empty array of names")
            }
            var subjects: [String] = []
            for (i, item) in items.enumerated() {
                guard let s = item.stringValue, !s.isEmpty else {
                    throw MonitorConfigError(path: "\(path).subjects[\(i)]", message: "expected a non-empty string")
                }
                subjects.append(s)
            }
            rule.subjects = subjects
        }
        if rule.metric == .errorSpike && rule.threshold <= 0 {
            throw MonitorConfigError(path: "\(path).threshold", message: "error_spike's threshold counts robust deviations and must be above 0")
        }
        return rule
    }
}

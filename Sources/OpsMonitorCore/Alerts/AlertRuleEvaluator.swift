import OpsActivity
import OpsJSON

/// One rule's verdict on one subject at one evaluation.
public struct AlertObservation: Sendable, Equatable {
    public var rule: String
    /// `rule:subject`, the alert's dedupe key.
    public var key: String
    public var subject: String
    public var service: String?
    public var value: Double
    public var threshold: Double
    public var breached: Bool
    public var severity: AlertSeverity
    public var title: String
    /// Identifies the data judged (a probe's time, a heartbeat's time…): the same data is
    /// counted once by the hysteresis. nil: every evaluation counts (sliding windows).
    public var sample: String?
    public var detail: JSON

    public init(rule: String, subject: String, service: String?, value: Double, threshold: Double, breached: Bool,
                severity: AlertSeverity, title: String, sample: String?, detail: JSON = [:]) {
        self.rule = rule
        self.key = "\(rule):\(subject)"
        self.subject = subject
        self.service = service
        self.value = value
        self.threshold = threshold
        self.breached = breached
        self.severity = severity
        self.title = title
        self.sample = sample
        self.detail = detail
    }
}

/// Rules × inputs → observations. Pure: the same inputs always give the same verdicts.
public enum AlertRuleEvaluator {
    /// Every enabled rule whose source was loaded, over every subject it covers.
    public static func evaluate(_ rules: [AlertRule], _ inputs: AlertInputs) -> [AlertObservation] {
        var out: [AlertObservation] = []
        for rule in rules where rule.enabled && inputs.has(rule.metric.source) {
            out += evaluate(rule, inputs).filter { rule.covers($0.subject) }
        }
        return out
    }

    static func evaluate(_ rule: AlertRule, _ inputs: AlertInputs) -> [AlertObservation] {
        switch rule.metric {
        case .errorRate:
            guard let api = inputs.api, api.requests > 0, api.requests >= Int64(rule.minRequests) else { return [] }
            let pct = Double(api.errors) * 100 / Double(api.requests)
            return [observe(rule, subject: "api", service: "api", value: pct, sample: nil,
                            title: "API error rate \(fmt(pct)) % \(rule.comparator.rawValue) \(fmt(rule.threshold)) % (last 5 min, \(api.errors) of \(api.requests) requests)",
                            detail: ["requests": .int(api.requests), "errors": .int(api.errors), "window_s": 300])]
        case .latencyP95:
            guard let api = inputs.api, api.requests >= Int64(max(rule.minRequests, 1)),
                  let p95 = LatencyHistogram.percentile(api.latencyHistogram, 95) else { return [] }
            return [observe(rule, subject: "api", service: "api", value: p95, sample: nil,
                            title: "API p95 latency \(fmt(p95)) ms \(rule.comparator.rawValue) \(fmt(rule.threshold)) ms (last 5 min)",
                            detail: ["requests": .int(api.requests), "window_s": 300])]
        case .queueDepth:
            return (inputs.queues ?? []).map { q in
                observe(rule, subject: q.name, service: q.name, value: q.depth, sample: q.ts,
                        title: "Queue \(q.name): depth \(fmt(q.depth)) \(rule.comparator.rawValue) \(fmt(rule.threshold))",
                        detail: ["queue": .string(q.name), "heartbeat_at": .string(q.ts)])
            }
        case .diskUsage:
            guard let disk = inputs.disk else { return [] }
            return disk.entries.map { e in
                observe(rule, subject: e.name, service: "host", value: e.usedPercent, sample: disk.ts,
                        title: "Disk \(e.name) (\(e.path)): \(fmt(e.usedPercent)) % used \(rule.comparator.rawValue) \(fmt(rule.threshold)) %",
                        detail: ["directory": .string(e.name), "path": .string(e.path)])
            }
        case .dbConnections:
            return (inputs.services ?? []).compactMap { s in
                guard s.kind == "postgres", let pct = s.metrics["connections_pct"]?.doubleValue else { return nil }
                let used = s.metrics["connections"]?.intValue.map(String.init) ?? "?"
                let max = s.metrics["max_connections"]?.intValue.map(String.init) ?? "?"
                return observe(rule, subject: s.name, service: s.name, value: pct, sample: s.checkedAt,
                               title: "\(s.name): \(fmt(pct)) % of max connections in use (\(used)/\(max)) \(rule.comparator.rawValue) \(fmt(rule.threshold)) %",
                               detail: ["connections": s.metrics["connections"] ?? .null, "max_connections": s.metrics["max_connections"] ?? .null])
            }
        case .dbCacheHitRatio:
            return (inputs.services ?? []).compactMap { s in
                // null until the database has served reads: no verdict on a cold start.
                guard s.kind == "postgres", let ratio = s.metrics["cache_hit_ratio"]?.doubleValue else { return nil }
                let pct = ratio * 100
                return observe(rule, subject: s.name, service: s.name, value: pct, sample: s.checkedAt,
                               title: "\(s.name): cache hit ratio \(fmt(pct, digits: 2)) % \(rule.comparator.rawValue) \(fmt(rule.threshold)) %")
            }
        case .serviceDown:
            return (inputs.services ?? []).compactMap { s in
                // unknown (never probed) is no verdict; down is the only breach.
                guard s.status != "unknown" else { return nil }
                let down = s.status == "down" ? 1.0 : 0.0
                let why = s.message.map { ": \($0.prefix(300))" } ?? ""
                return observe(rule, subject: s.name, service: s.name, value: down, sample: s.checkedAt,
                               title: "\(s.name) is \(s.status)\(why)",
                               detail: ["status": .string(s.status), "consecutive_failures": .int(s.consecutiveFailures),
                                        "message": .from(s.message), "value_text": .string(s.status), "threshold_text": "down"])
            }
        case .budgetUser:
            guard let b = inputs.budget else { return [] }
            return b.users.compactMap { budgetUser(rule, userID: $0.userID, spentUSD: $0.spentUSD, limitCents: b.userLimitCents, sample: b.sample) }
        case .budgetGlobal:
            guard let b = inputs.budget else { return [] }
            return [budgetGlobal(rule, spentUSD: b.globalSpentUSD, limitCents: b.globalLimitCents, sample: b.sample)].compactMap { $0 }
        case .budgetRuns:
            guard let b = inputs.budget else { return [] }
            return b.users.compactMap { budgetRuns(rule, userID: $0.userID, runs: $0.runs, limit: b.runsLimit, sample: b.sample) }
        case .errorSpike:
            guard let windows = inputs.failures, windows.count >= 2 else { return [] }
            let current = Double(windows.last!)
            let baseline = AlertSpikeBaseline(windows.dropLast().map(Double.init))
            let bound = baseline.bound(k: rule.threshold)
            let spike = baseline.isSpike(current, k: rule.threshold, minCount: Double(rule.minCount))
            return [AlertObservation(rule: rule.name, subject: "runs", service: "runs", value: current, threshold: bound,
                                     breached: spike, severity: rule.severity,
                                     title: "Run failures spiking: \(fmt(current)) in the last 5 min (usual \(fmt(baseline.median)), bound \(fmt(bound)))",
                                     sample: nil,
                                     detail: ["value_text": .string("\(fmt(current)) failed runs in 5 min"),
                                              "threshold_text": .string("> \(fmt(bound)) (median \(fmt(baseline.median)) + \(fmt(rule.threshold)) robust deviations)"),
                                              "baseline_median": .double(baseline.median), "baseline_mad": .double(baseline.mad),
                                              "k": .double(rule.threshold), "windows": .int(Int64(windows.count - 1))])]
        }
    }

    // MARK: budgets (shared with the budget check route, so both raise the same alert)

    public static func budgetUser(_ rule: AlertRule, userID: String, spentUSD: Double, limitCents: Int64, sample: String?) -> AlertObservation? {
        guard let pct = BudgetGauge(limitCents: limitCents, usedUSD: spentUSD).percent else { return nil }
        let sev = rule.severity(for: pct)
        let title = sev == .critical ? "Budget of user \(userID) exhausted: \(fmt(pct)) % of the daily limit"
                                     : "Budget of user \(userID) at \(fmt(pct)) % of the daily limit"
        return observe(rule, subject: userID, service: "budget", value: pct, sample: sample, title: title,
                       detail: ["user_id": .string(userID), "used_usd": .double(spentUSD), "limit_cents": .int(limitCents)])
    }

    public static func budgetGlobal(_ rule: AlertRule, spentUSD: Double, limitCents: Int64, sample: String?) -> AlertObservation? {
        guard let pct = BudgetGauge(limitCents: limitCents, usedUSD: spentUSD).percent else { return nil }
        let sev = rule.severity(for: pct)
        let title = sev == .critical ? "Global budget exhausted: \(fmt(pct)) % of the daily limit"
                                     : "Global budget at \(fmt(pct)) % of the daily limit"
        return observe(rule, subject: "global", service: "budget", value: pct, sample: sample, title: title,
                       detail: ["used_usd": .double(spentUSD), "limit_cents": .int(limitCents)])
    }

    public static func budgetRuns(_ rule: AlertRule, userID: String, runs: Int64, limit: Int64, sample: String?) -> AlertObservation? {
        guard limit > 0 else { return nil }
        let pct = (Double(runs) * 100 / Double(limit) * 100).rounded() / 100
        let sev = rule.severity(for: pct)
        let title = sev == .critical ? "User \(userID) used all \(limit) daily runs (\(runs) started today)"
                                     : "User \(userID) started \(runs) of \(limit) daily runs (\(fmt(pct)) %)"
        return observe(rule, subject: userID, service: "budget", value: pct, sample: sample, title: title,
                       detail: ["user_id": .string(userID), "runs": .int(runs), "limit": .int(limit)])
    }

    static func observe(_ rule: AlertRule, subject: String, service: String?, value: Double, sample: String?,
                        title: String, detail: JSON = [:]) -> AlertObservation {
        // Notifications show value and threshold as people read them ("86.2 %", "> 80 %").
        var d = detail.objectValue ?? JSONObject()
        let unit = rule.metric.unit.isEmpty ? "" : " \(rule.metric.unit)"
        if d["value_text"] == nil { d["value_text"] = .string("\(fmt(value, digits: 2))\(unit)") }
        if d["threshold_text"] == nil { d["threshold_text"] = .string("\(rule.comparator.rawValue) \(fmt(rule.threshold, digits: 2))\(unit)") }
        return AlertObservation(rule: rule.name, subject: subject, service: service, value: value, threshold: rule.threshold,
                                breached: rule.comparator.breached(value, rule.threshold), severity: rule.severity(for: value),
                                title: title, sample: sample, detail: .object(d))
    }

    /// 7.5, 812, 0.25: at most `digits` decimals, no trailing zeros.
    public static func fmt(_ v: Double, digits: Int = 1) -> String {
        guard v.isFinite else { return "\(v)" }
        var scale = 1.0
        for _ in 0..<digits { scale *= 10 }
        let r = (v * scale).rounded() / scale
        if r == r.rounded() && abs(r) < 1e15 { return String(Int64(r)) }
        return String(r)
    }
}

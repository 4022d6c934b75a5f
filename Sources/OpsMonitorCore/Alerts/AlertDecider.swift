/// A key's persisted hysteresis (ops.alert_rule_state).
public struct AlertRuleStateRow: Sendable, Equatable {
    public var key: String
    public var rule: String
    public var recent: String
    public var successes: Int
    public var alertID: Int64?
    public var lastSample: String?

    public init(key: String, rule: String, recent: String = "", successes: Int = 0, alertID: Int64? = nil, lastSample: String? = nil) {
        self.key = key
        self.rule = rule
        self.recent = recent
        self.successes = successes
        self.alertID = alertID
        self.lastSample = lastSample
    }
}

/// An alert that is firing or acknowledged (not resolved), by dedupe key.
public struct OpenAlert: Sendable, Equatable {
    public var id: Int64
    public var rule: String
    public var key: String
    public var severity: AlertSeverity
    public init(id: Int64, rule: String, key: String, severity: AlertSeverity) {
        self.id = id
        self.rule = rule
        self.key = key
        self.severity = severity
    }
}

/// What to do about one key after an evaluation.
public struct AlertDecision: Sendable, Equatable {
    public enum Action: Sendable, Equatable {
        case none
        /// Hysteresis reached the failure threshold: fire (or merge into the open alert).
        case fire(AlertObservation)
        /// Already open, and the value now calls for a higher severity.
        case escalate(AlertObservation)
        /// Enough good evaluations: resolve the open alert.
        case resolve(alertID: Int64)
    }
    public var key: String
    public var rule: String
    public var action: Action
    /// The state to store; nil: delete the row (nothing worth keeping).
    public var state: AlertRuleStateRow?
    /// Whether `state` differs from what is stored (no write otherwise).
    public var stateChanged: Bool
}

/// Hysteresis over every key: the keys observed now, the keys with stored state, and the
/// open alerts of the evaluated rules (raised by an earlier monitor or by the budget check
/// route, which the monitor adopts and resolves). A key of an evaluated rule without an
/// observation counts as good: its subject went away or has no data.
public enum AlertDecider {
    public static func decide(config: AlertConfig, evaluatedRules: [AlertRule], observations: [AlertObservation],
                              states: [AlertRuleStateRow], openAlerts: [OpenAlert]) -> [AlertDecision] {
        let rules = Dictionary(evaluatedRules.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        var observed: [String: AlertObservation] = [:]
        for o in observations where rules[o.rule] != nil { observed[o.key] = o }
        let stored = Dictionary(states.map { ($0.key, $0) }, uniquingKeysWith: { a, _ in a })
        let open = Dictionary(openAlerts.map { ($0.key, $0) }, uniquingKeysWith: { a, b in a.id >= b.id ? a : b })

        var keys: [(key: String, rule: String)] = []
        var seen = Set<String>()
        for o in observations where rules[o.rule] != nil && seen.insert(o.key).inserted { keys.append((o.key, o.rule)) }
        for s in states where rules[s.rule] != nil && seen.insert(s.key).inserted { keys.append((s.key, s.rule)) }
        for a in openAlerts where rules[a.rule] != nil && seen.insert(a.key).inserted { keys.append((a.key, a.rule)) }

        return keys.map { k in
            decide(key: k.key, rule: rules[k.rule]!, policy: config.policy(for: rules[k.rule]!),
                   observation: observed[k.key], stored: stored[k.key], open: open[k.key])
        }
    }

    static func decide(key: String, rule: AlertRule, policy: AlertHysteresisPolicy, observation: AlertObservation?,
                       stored: AlertRuleStateRow?, open: OpenAlert?) -> AlertDecision {
        let before = stored ?? AlertRuleStateRow(key: key, rule: rule.name)
        var after = before
        after.alertID = open?.id
        var action = AlertDecision.Action.none
        // The same probe result or heartbeat seen again is not a new outcome.
        let repeated = observation?.sample != nil && observation?.sample == before.lastSample
        if !repeated {
            let h = AlertHysteresisState(recent: before.recent, successes: before.successes, firing: open != nil)
            let (next, transition) = h.step(breached: observation?.breached ?? false, policy: policy)
            after.recent = next.recent
            after.successes = min(next.successes, 10_000)
            if let sample = observation?.sample { after.lastSample = sample }
            switch transition {
            case .fire:
                if let observation { action = .fire(observation) }
            case .resolve:
                if let open { action = .resolve(alertID: open.id) }
                after.alertID = nil
            case .none:
                break
            }
        }
        if case .none = action, let open, let observation, observation.breached, observation.severity > open.severity {
            action = .escalate(observation)
        }
        let idle = after.alertID == nil && !after.recent.contains("F") && !isFire(action)
        let state: AlertRuleStateRow? = idle ? nil : after
        return AlertDecision(key: key, rule: rule.name, action: action, state: state,
                             stateChanged: state != stored)
    }

    static func isFire(_ action: AlertDecision.Action) -> Bool {
        if case .fire = action { return true }
        return false
    }
}

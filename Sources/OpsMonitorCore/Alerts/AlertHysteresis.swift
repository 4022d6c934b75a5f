/// When an alert key fires and resolves: `failureThreshold` breaches among the last
/// `failureWindow` evaluations fire it (window == threshold: that many in a row), and
/// `successThreshold` good evaluations in a row resolve it. Breaches that do not reach the
/// threshold never fire, and a single good evaluation never resolves, so a value that hovers
/// around its threshold does not flap.
public struct AlertHysteresisPolicy: Sendable, Equatable {
    public var failureThreshold: Int
    public var failureWindow: Int
    public var successThreshold: Int

    public init(failureThreshold: Int, failureWindow: Int? = nil, successThreshold: Int) {
        self.failureThreshold = max(1, failureThreshold)
        self.failureWindow = max(self.failureThreshold, failureWindow ?? failureThreshold)
        self.successThreshold = max(1, successThreshold)
    }
}

/// One key's hysteresis state, as ops.alert_rule_state stores it.
public struct AlertHysteresisState: Sendable, Equatable {
    /// The last outcomes, oldest first: `F` a breach, `O` fine (at most `failureWindow`).
    public var recent: String
    /// Good evaluations in a row.
    public var successes: Int
    /// Whether the key's alert is open.
    public var firing: Bool

    public init(recent: String = "", successes: Int = 0, firing: Bool = false) {
        self.recent = recent
        self.successes = successes
        self.firing = firing
    }

    public static let idle = AlertHysteresisState()

    /// Nothing worth keeping: no open alert and no breach that could still count.
    public var isIdle: Bool { !firing && !recent.contains("F") }

    public enum Transition: Sendable, Equatable { case none, fire, resolve }

    /// Applies one evaluation's outcome.
    public func step(breached: Bool, policy: AlertHysteresisPolicy) -> (state: AlertHysteresisState, transition: Transition) {
        var next = self
        next.recent.append(breached ? "F" : "O")
        if next.recent.count > policy.failureWindow {
            next.recent.removeFirst(next.recent.count - policy.failureWindow)
        }
        if breached {
            next.successes = 0
            if !firing && next.recent.filter({ $0 == "F" }).count >= policy.failureThreshold {
                next.firing = true
                return (next, .fire)
            }
            return (next, .none)
        }
        next.successes += 1
        if firing && next.successes >= policy.successThreshold {
            // Start afresh: breaches from before the resolution do not count towards the next alert.
            return (AlertHysteresisState(recent: "", successes: 0, firing: false), .resolve)
        }
        return (next, .none)
    }
}

/// Budget arithmetic for the guard and the gauges. Limits of 0 mean "disabled".
public struct BudgetGauge: Equatable, Sendable {
    public let limitCents: Int64
    public let usedUSD: Double

    public init(limitCents: Int64, usedUSD: Double) {
        self.limitCents = limitCents
        self.usedUSD = usedUSD
    }

    /// The true percentage (may exceed 100); nil when the limit is disabled.
    public var percent: Double? {
        guard limitCents > 0 else { return nil }
        return (usedUSD * 100 / Double(limitCents) * 100 * 100).rounded() / 100
    }

    public var isExhausted: Bool { (percent ?? 0) >= 100 }
    public var isWarning: Bool { (percent ?? 0) >= 80 }
}

/// The budget guard's decision for one user at one moment.
public struct BudgetDecision: Equatable, Sendable {
    public enum Level: String, Sendable { case ok, warning, denied }

    public let allowed: Bool
    public let level: Level
    /// Why a denial happened (`user_budget`, `global_budget`, `user_runs`); nil when allowed.
    public let reason: String?

    /// Admins are exempt; otherwise any enabled limit at ≥ 100 % denies, ≥ 80 % warns.
    public static func decide(user: BudgetGauge, global: BudgetGauge, runsUsed: Int64, runsLimit: Int64,
                              isAdmin: Bool) -> BudgetDecision {
        let runsExhausted = runsLimit > 0 && runsUsed >= runsLimit
        let runsWarning = runsLimit > 0 && Double(runsUsed) >= Double(runsLimit) * 0.8
        if !isAdmin {
            if user.isExhausted { return BudgetDecision(allowed: false, level: .denied, reason: "user_budget") }
            if global.isExhausted { return BudgetDecision(allowed: false, level: .denied, reason: "global_budget") }
            if runsExhausted { return BudgetDecision(allowed: false, level: .denied, reason: "user_runs") }
        }
        let warn = user.isWarning || global.isWarning || (!isAdmin && runsWarning)
        return BudgetDecision(allowed: true, level: warn ? .warning : .ok, reason: nil)
    }
}

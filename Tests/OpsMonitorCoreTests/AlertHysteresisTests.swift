import Foundation
import OpsJSON
import OpsMonitorCore
import Testing

/// The monitor's alert loop without a database: evaluate → decide → apply, with the rule
/// states and open alerts kept in memory the way ops.alert_rule_state and ops.alerts keep them.
struct AlertLoop {
    var config: AlertConfig
    var states: [AlertRuleStateRow] = []
    var open: [OpenAlert] = []
    var fired: [String] = []
    var resolved: [String] = []
    var escalated: [String] = []
    var nextID: Int64 = 1

    init(_ config: AlertConfig) { self.config = config }

    mutating func evaluate(_ inputs: AlertInputs) {
        let rules = config.activeRules.filter { inputs.has($0.metric.source) }
        let observations = AlertRuleEvaluator.evaluate(rules, inputs)
        let decisions = AlertDecider.decide(config: config, evaluatedRules: rules, observations: observations,
                                            states: states, openAlerts: open)
        for d in decisions {
            var state = d.state
            switch d.action {
            case .none: break
            case .fire(let o):
                let id: Int64
                if let existing = open.first(where: { $0.key == o.key }) { id = existing.id } else {
                    id = nextID; nextID += 1
                    open.append(OpenAlert(id: id, rule: o.rule, key: o.key, severity: o.severity))
                }
                state?.alertID = id
                fired.append(o.key)
            case .escalate(let o):
                if let i = open.firstIndex(where: { $0.key == o.key }) { open[i].severity = o.severity }
                escalated.append(o.key)
            case .resolve(let id):
                open.removeAll { $0.id == id }
                resolved.append(d.key)
            }
            states.removeAll { $0.key == d.key }
            if let state { states.append(state) }
        }
    }
}

/// SplitMix64: the same "random" traffic on every run.
struct SeededRandom {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func unit() -> Double { Double(next() >> 11) / Double(1 << 53) }
    /// Knuth's method; fine for the small means of failure counts.
    mutating func poisson(_ lambda: Double) -> Int64 {
        let l = Foundation.exp(-lambda)
        var k: Int64 = 0
        var p = 1.0
        repeat { k += 1; p *= unit() } while p > l
        return k - 1
    }
    mutating func binomial(_ n: Int, _ p: Double) -> Int64 {
        var k: Int64 = 0
        for _ in 0..<n where unit() < p { k += 1 }
        return k
    }
}

@Suite struct AlertHysteresisTests {
    let policy = AlertHysteresisPolicy(failureThreshold: 3, successThreshold: 2)

    func run(_ outcomes: String, _ policy: AlertHysteresisPolicy) -> [AlertHysteresisState.Transition] {
        var s = AlertHysteresisState.idle
        return outcomes.map { c in
            let (next, t) = s.step(breached: c == "F", policy: policy)
            s = next
            return t
        }
    }

    @Test func consecutiveFailuresFireAndSuccessesResolve() {
        #expect(run("FFF", policy) == [.none, .none, .fire])
        #expect(run("FFOFF", policy).contains(.fire) == false, "a good evaluation breaks a run of breaches")
        #expect(run("FFFOO", policy) == [.none, .none, .fire, .none, .resolve])
        #expect(run("FFFOFOO", policy) == [.none, .none, .fire, .none, .none, .none, .resolve],
                "one good evaluation does not resolve; a breach restarts the count")
        #expect(run("FFFOOFF", policy).filter { $0 == .fire }.count == 1, "after resolving, breaches count from zero again")
    }

    @Test func xOfLastY() {
        let p = AlertHysteresisPolicy(failureThreshold: 3, failureWindow: 5, successThreshold: 2)
        #expect(run("FOFOF", p).last == .fire)
        #expect(run("FOOFOOF", p).contains(.fire) == false, "only 2 breaches in any 5")
    }

    @Test func aValueHoveringAtItsThresholdNeverFlaps() {
        // Alternating breach/fine: consecutive counting never fires; 3-of-5 fires once and
        // then never resolves (it never sees 2 good evaluations in a row): no flapping either way.
        let hover = String(repeating: "FO", count: 500)
        #expect(run(hover, policy).allSatisfy { $0 == .none })
        let p = AlertHysteresisPolicy(failureThreshold: 3, failureWindow: 5, successThreshold: 2)
        let transitions = run(hover, p).filter { $0 != .none }
        #expect(transitions == [.fire])
    }

    @Test func deciderAdoptsOpenAlertsAndResolvesVanishedSubjects() {
        var loop = AlertLoop(AlertConfig(rules: [AlertRule.defaults.first { $0.name == "queue_depth" }!]))
        let high = AlertInputs(queues: [AlertQueueSample(name: "q", depth: 500, ts: "1")])
        loop.evaluate(high)
        loop.evaluate(high)
        loop.evaluate(high)
        #expect(loop.fired.isEmpty, "one heartbeat seen three times is one breach")
        for t in 2...3 { loop.evaluate(AlertInputs(queues: [AlertQueueSample(name: "q", depth: 500, ts: "\(t)")])) }
        #expect(loop.fired == ["queue_depth:q"])
        #expect(loop.states.first?.alertID == 1)
        // The queue stops reporting: its key counts as good and resolves.
        loop.evaluate(AlertInputs(queues: []))
        loop.evaluate(AlertInputs(queues: []))
        #expect(loop.resolved == ["queue_depth:q"] && loop.open.isEmpty && loop.states.isEmpty)
        // A source that could not be read changes nothing.
        loop.open = [OpenAlert(id: 9, rule: "queue_depth", key: "queue_depth:q", severity: .warning)]
        for _ in 0..<5 { loop.evaluate(AlertInputs()) }
        #expect(loop.open.count == 1 && loop.resolved.count == 1)
        // An alert raised elsewhere (the budget check) is adopted and resolved by the monitor.
        loop.evaluate(AlertInputs(queues: [AlertQueueSample(name: "q", depth: 3, ts: "4")]))
        loop.evaluate(AlertInputs(queues: [AlertQueueSample(name: "q", depth: 3, ts: "5")]))
        #expect(loop.open.isEmpty && loop.resolved.count == 2)
    }

    @Test func severityEscalatesOnAnOpenAlert() {
        var loop = AlertLoop(AlertConfig(failureThreshold: 1, rules: [AlertRule.defaults.first { $0.name == "budget_user" }!]))
        func spend(_ usd: Double, _ n: Int) -> AlertInputs {
            AlertInputs(budget: AlertBudgetSample(sample: "\(n)", userLimitCents: 100, globalLimitCents: 0, runsLimit: 0,
                                                  users: [AlertBudgetSample.User(userID: "u", spentUSD: usd, runs: 0)], globalSpentUSD: usd))
        }
        loop.evaluate(spend(0.85, 1))
        #expect(loop.fired == ["budget_user:u"] && loop.open.first?.severity == .warning)
        loop.evaluate(spend(0.9, 2))
        #expect(loop.escalated.isEmpty)
        loop.evaluate(spend(1.05, 3))
        #expect(loop.escalated == ["budget_user:u"] && loop.open.first?.severity == .critical && loop.fired.count == 1)
    }

    @Test func idleKeysLeaveNoState() {
        var loop = AlertLoop(AlertConfig())
        let inputs = AlertInputs(queues: (0..<50).map { AlertQueueSample(name: "q\($0)", depth: 3, ts: "1") })
        loop.evaluate(inputs)
        #expect(loop.states.isEmpty, "healthy subjects are not stored")
    }

    /// Three days of ordinary traffic, evaluated every 5 s as the monitor does: 150–250
    /// requests a minute with 1 % errors and a ~80 ms typical latency, failures around a
    /// daily cycle, queues that come and go under their threshold. Not one alert fires.
    @Test func replayedNormalTrafficRaisesNoAlert() {
        var rng = SeededRandom(state: 42)
        var loop = AlertLoop(AlertConfig())
        var minutes: [(requests: Int64, errors: Int64, hist: [Int64])] = []
        var failureMinutes: [Int64] = []
        let days = 3
        for minute in 0..<(days * 1440) {
            let requests = 150 + Int(rng.unit() * 100)
            var hist = [Int64](repeating: 0, count: LatencyHistogram.bucketCount)
            for _ in 0..<requests {
                // Log-normal-ish: mostly 40–150 ms, a tail to ~400 ms.
                let ms = 40 + 60 * (-Foundation.log(1 - rng.unit())) * 0.8
                hist[LatencyHistogram.bucket(forMillis: ms)] += 1
            }
            minutes.append((Int64(requests), rng.binomial(requests, 0.01), hist))
            // Failures per minute: 0.4–1.2 on a daily cycle (2–6 per 5 minutes).
            let phase = Double(minute % 1440) / 1440
            failureMinutes.append(rng.poisson(0.8 + 0.4 * (phase < 0.5 ? phase * 2 : (1 - phase) * 2) - 0.2))
            guard minute >= 125 else { continue }
            let window = minutes.suffix(5)
            let api = AlertAPIWindow(requests: window.reduce(0) { $0 + $1.requests }, errors: window.reduce(0) { $0 + $1.errors },
                                     latencyHistogram: window.reduce([Int64]()) { LatencyHistogram.add($0, $1.hist) })
            var windows: [Int64] = []
            for w in (0..<25).reversed() {
                let end = failureMinutes.count - w * 5
                windows.append(failureMinutes[(end - 5)..<end].reduce(0, +))
            }
            let queues = (0..<3).map { AlertQueueSample(name: "queue-\($0)", depth: Double(rng.unit() * 90), ts: "\(minute)") }
            // 12 evaluations a minute, as with interval_s 5.
            for _ in 0..<12 { loop.evaluate(AlertInputs(api: api, queues: queues, failures: windows)) }
        }
        #expect(loop.fired.isEmpty, "normal traffic fired \(loop.fired.prefix(10))")
        #expect(loop.open.isEmpty)
    }

    /// The same kind of traffic with a burst of failures in the middle: error_spike fires
    /// once during the burst and resolves after it.
    @Test func aFailureBurstFiresOnceAndResolves() {
        var rng = SeededRandom(state: 7)
        var loop = AlertLoop(AlertConfig(rules: [AlertRule.defaults.first { $0.name == "error_spike" }!]))
        var failureMinutes: [Int64] = []
        for minute in 0..<600 {
            let burst = (300..<315).contains(minute)
            failureMinutes.append(rng.poisson(burst ? 8 : 0.8))
            guard minute >= 125 else { continue }
            var windows: [Int64] = []
            for w in (0..<25).reversed() {
                let end = failureMinutes.count - w * 5
                windows.append(failureMinutes[(end - 5)..<end].reduce(0, +))
            }
            for _ in 0..<12 { loop.evaluate(AlertInputs(failures: windows)) }
        }
        #expect(loop.fired == ["error_spike:runs"])
        #expect(loop.resolved == ["error_spike:runs"])
    }
}

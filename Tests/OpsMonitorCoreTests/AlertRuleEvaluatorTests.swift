import OpsJSON
import OpsMonitorCore
import Testing

@Suite struct AlertRuleEvaluatorTests {
    let rules = Dictionary(uniqueKeysWithValues: AlertRule.defaults.map { ($0.name, $0) })

    func histogram(_ latencies: [Double]) -> [Int64] {
        var h = [Int64](repeating: 0, count: LatencyHistogram.bucketCount)
        for ms in latencies { h[LatencyHistogram.bucket(forMillis: ms)] += 1 }
        return h
    }

    func evaluate(_ name: String, _ inputs: AlertInputs) -> [AlertObservation] {
        AlertRuleEvaluator.evaluate([rules[name]!], inputs)
    }

    @Test func errorRateNeedsEnoughRequests() {
        let quiet = AlertInputs(api: AlertAPIWindow(requests: 19, errors: 19, latencyHistogram: []))
        #expect(evaluate("error_rate", quiet).isEmpty, "19 requests are too few to judge")
        let busy = AlertInputs(api: AlertAPIWindow(requests: 200, errors: 12, latencyHistogram: []))
        let o = evaluate("error_rate", busy)
        #expect(o.count == 1 && o[0].key == "error_rate:api" && o[0].breached && o[0].value == 6 && o[0].threshold == 5)
        #expect(o[0].detail["value_text"] == "6 %" && o[0].detail["threshold_text"] == "> 5 %")
        let fine = AlertInputs(api: AlertAPIWindow(requests: 200, errors: 10, latencyHistogram: []))
        #expect(evaluate("error_rate", fine).first?.breached == false, "exactly 5 % is not above 5 %")
    }

    @Test func latencyP95FromTheHistogram() {
        let slow = AlertInputs(api: AlertAPIWindow(requests: 100, errors: 0,
                                                   latencyHistogram: histogram(Array(repeating: 50, count: 90) + Array(repeating: 900, count: 10))))
        let o = evaluate("latency_p95", slow)
        #expect(o.count == 1 && o[0].breached && o[0].value > 700, "p95 \(o.first?.value ?? -1)")
        let fast = AlertInputs(api: AlertAPIWindow(requests: 100, errors: 0, latencyHistogram: histogram(Array(repeating: 40, count: 100))))
        #expect(evaluate("latency_p95", fast).first?.breached == false)
    }

    @Test func queuesDisksAndServicesPerSubject() {
        let inputs = AlertInputs(
            services: [AlertServiceSample(name: "db", kind: "postgres", status: "healthy",
                                          metrics: ["connections": 85, "max_connections": 100, "connections_pct": 85.0, "cache_hit_ratio": 0.95],
                                          checkedAt: "t1"),
                       AlertServiceSample(name: "cold", kind: "postgres", status: "healthy", metrics: ["connections_pct": 1.0, "cache_hit_ratio": .null],
                                          checkedAt: "t1"),
                       AlertServiceSample(name: "web", kind: "http", status: "down", message: "connection refused", checkedAt: "t2"),
                       AlertServiceSample(name: "new", kind: "tcp", status: "unknown", checkedAt: nil)],
            queues: [AlertQueueSample(name: "q1", depth: 101, ts: "h1"), AlertQueueSample(name: "q2", depth: 100, ts: "h2")],
            disk: AlertDiskSample.parse(ts: "c1", disk: ["root": ["path": "/", "used_pct": 81.5],
                                                         "directories": [["name": "pg", "path": "/var/lib/pg", "used_pct": 96.0]]]))
        let q = evaluate("queue_depth", inputs)
        #expect(q.map(\.key) == ["queue_depth:q1", "queue_depth:q2"] && q.map(\.breached) == [true, false])
        #expect(q[0].sample == "h1" && q[0].service == "q1")
        let d = evaluate("disk_usage", inputs)
        #expect(d.map(\.key) == ["disk_usage:root", "disk_usage:pg"] && d.allSatisfy(\.breached))
        #expect(d.map(\.severity) == [.warning, .critical], "past 95 % the disk alert is critical")
        let c = evaluate("db_connections", inputs)
        #expect(c.count == 2 && c[0].breached && c[0].title.contains("85/100") && !c[1].breached)
        let h = evaluate("db_cache_hit_ratio", inputs)
        #expect(h.count == 1 && h[0].key == "db_cache_hit_ratio:db" && h[0].breached && h[0].value == 95,
                "a null ratio (no reads yet) gives no verdict")
        let s = evaluate("service_down", inputs)
        #expect(s.map(\.key) == ["service_down:db", "service_down:cold", "service_down:web"], "unknown gives no verdict")
        #expect(s.map(\.breached) == [false, false, true] && s[2].severity == .critical && s[2].title.contains("connection refused"))
        #expect(s[2].detail["value_text"] == "down")
    }

    @Test func subjectsRestrictARule() {
        var rule = rules["queue_depth"]!
        rule.subjects = ["q2"]
        let inputs = AlertInputs(queues: [AlertQueueSample(name: "q1", depth: 500, ts: "a"), AlertQueueSample(name: "q2", depth: 5, ts: "b")])
        #expect(AlertRuleEvaluator.evaluate([rule], inputs).map(\.subject) == ["q2"])
    }

    @Test func missingSourcesAreSkipped() {
        #expect(AlertRuleEvaluator.evaluate(AlertRule.defaults, AlertInputs()).isEmpty)
        let emptyDisk = AlertInputs(disk: AlertDiskSample(ts: "", entries: []))
        #expect(AlertRuleEvaluator.evaluate(AlertRule.defaults, emptyDisk).isEmpty)
    }

    @Test func budgetsWarnAt80AndAreCriticalAt100() {
        let b = AlertBudgetSample(sample: "s", userLimitCents: 100, globalLimitCents: 1000, runsLimit: 3,
                                  users: [AlertBudgetSample.User(userID: "u1", spentUSD: 0.85, runs: 3),
                                          AlertBudgetSample.User(userID: "u2", spentUSD: 1.0, runs: 1)],
                                  globalSpentUSD: 5)
        let inputs = AlertInputs(budget: b)
        let u = evaluate("budget_user", inputs)
        #expect(u.map(\.key) == ["budget_user:u1", "budget_user:u2"])
        #expect(u.map(\.severity) == [.warning, .critical] && u.allSatisfy(\.breached))
        #expect(u[1].title == "Budget of user u2 exhausted: 100 % of the daily limit")
        let g = evaluate("budget_global", inputs)
        #expect(g.count == 1 && g[0].key == "budget_global:global" && !g[0].breached && g[0].value == 50)
        let r = evaluate("budget_runs", inputs)
        #expect(r.map(\.breached) == [true, false] && r[0].severity == .critical && r[0].value == 100)
        let off = AlertInputs(budget: AlertBudgetSample(sample: "s", userLimitCents: 0, globalLimitCents: 0, runsLimit: 0,
                                                        users: [AlertBudgetSample.User(userID: "u1", spentUSD: 9, runs: 9)], globalSpentUSD: 9))
        #expect(AlertRuleEvaluator.evaluate(AlertRule.defaults, off).isEmpty, "limits of 0 are off")
    }

    @Test func errorSpikeAgainstTheMedianAndMAD() {
        let baseline: [Int64] = [3, 4, 2, 5, 3, 4, 3, 2, 4, 3, 5, 4, 3, 2, 3, 4, 3, 4, 2, 3, 4, 3, 5, 3]
        let normal = evaluate("error_spike", AlertInputs(failures: baseline + [6]))
        #expect(normal.count == 1 && !normal[0].breached, "6 against a median of 3: \(normal)")
        let spike = evaluate("error_spike", AlertInputs(failures: baseline + [20]))
        #expect(spike[0].breached && spike[0].key == "error_spike:runs" && spike[0].threshold > 6 && spike[0].threshold < 20)
        // A few outliers in the baseline do not lift it: median and MAD ignore them.
        var noisy = baseline
        noisy[3] = 80; noisy[10] = 60
        #expect(evaluate("error_spike", AlertInputs(failures: noisy + [20]))[0].breached)
        // From a quiet baseline, a handful of failures is not a spike (min_count 5, spread ≥ 1).
        let quiet = [Int64](repeating: 0, count: 24)
        #expect(!evaluate("error_spike", AlertInputs(failures: quiet + [4]))[0].breached)
        #expect(evaluate("error_spike", AlertInputs(failures: quiet + [6]))[0].breached)
    }

    @Test func spikeBaselineStatistics() {
        let b = AlertSpikeBaseline([1, 2, 3, 4, 100])
        #expect(b.median == 3 && b.mad == 1)
        #expect(AlertSpikeBaseline.median([4, 1, 3, 2]) == 2.5)
        #expect(AlertSpikeBaseline([]).median == 0)
        #expect(AlertSpikeBaseline([100, 100, 100]).spread == 10, "MAD 0: the spread falls back to √median")
    }

    @Test func numbersReadWell() {
        #expect(AlertRuleEvaluator.fmt(7.5) == "7.5")
        #expect(AlertRuleEvaluator.fmt(812.04) == "812")
        #expect(AlertRuleEvaluator.fmt(0.256, digits: 2) == "0.26")
        #expect(AlertRuleEvaluator.fmt(-3) == "-3")
    }
}

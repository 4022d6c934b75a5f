import OpsActivity
import OpsJSON
import OpsLog
import OpsPostgres

/// The aggregate reads behind summary, timeseries, top, overview and queue. Every window is
/// a half-open [start, end) range on an indexed timestamp; `now` comes from the caller so
/// one answer uses one clock.
public struct ActivityQueries {
    let db: PGConnection
    /// The refresher's shared top-agents results (nil on the request path).
    let memo: TopAgentsMemo?
    /// The refresher's histograms of today's durations (nil on the request path, which sorts
    /// the durations with percentile_cont: the same numbers).
    let durations: RunDurations?

    public init(connection: PGConnection, memo: TopAgentsMemo? = nil, durations: RunDurations? = nil) {
        self.db = connection
        self.memo = memo
        self.durations = durations
    }

    public struct Limits: Sendable {
        public let userCents: Int64
        public let globalCents: Int64
        public init(userCents: Int64, globalCents: Int64) {
            self.userCents = userCents
            self.globalCents = globalCents
        }
    }

    // MARK: summary

    public func summary(now: UTCTime, limits: Limits) throws -> JSON {
        let (d0, d1) = SeriesWindow.today.bounds(now: now)
        let p = [d0.sql, d1.sql]
        // runs_today comes with the top agents (the total of their counts).
        let top = try topAgentsWithTotal(window: .today, now: now, limit: 5)
        // Counts and costs come from ops.run_rollup_now (hourly and daily aggregates the
        // database keeps, migration 0014); the percentiles from the refresher's histograms,
        // or, on the request path (small data), from sorting the day's durations.
        let spent = try db.query("""
            SELECT sum(cost), sum(costs) FROM ops.run_rollup_now WHERE axis = 'f' AND bucket >= $1 AND bucket < $2
            """, p)
        let latency: [Double?]
        if let h = durations?.histograms(for: d0.dateString) {
            latency = h.latency.percentiles([0.5, 0.95])
        } else {
            let r = try db.query("""
                SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY duration_ms),
                       percentile_cont(0.95) WITHIN GROUP (ORDER BY duration_ms)
                FROM ops.runs WHERE finished_at >= $1 AND finished_at < $2 AND status = 'success'
                """, p)
            latency = [r.double(0, 0), r.double(0, 1)]
        }
        let errors = try db.query("""
            SELECT count(*) FROM ops.runs WHERE status = 'failed' AND finished_at > $1 AND finished_at <= $2
            """, [now.adding(seconds: -3600).sql, now.sql])
        let topUser = try db.query("""
            SELECT key, sum(cost) AS spent FROM ops.run_rollup_now WHERE axis = 'c' AND bucket >= $1 AND bucket < $2
            GROUP BY key HAVING sum(costs) > 0 ORDER BY spent DESC, key LIMIT 1
            """, p)
        // Users with a run started in the 24 h come from the hourly aggregates (axis h): the
        // whole hours inside the window and the current hour, less each user's runs of the
        // current hour that start after now (ingest accepts clocks up to a day ahead; there are
        // few such runs and runs_started finds them). Only the partial hour at the window's
        // start reads ops.runs, and the messages (a tenth as many) are read as they are.
        // 0.36 s → ~0.05 s at 1M runs a day, and no scan of the busiest hour under ingest.
        let windowStart = now.adding(seconds: -86_400)
        let firstWholeHour = windowStart.startOfHour.adding(seconds: 3_600)
        let currentHour = now.startOfHour
        let active = try db.query("""
            SELECT count(*) FROM (
                SELECT h.key FROM (
                    SELECT key, sum(runs) AS runs FROM ops.run_rollup_now
                    WHERE axis = 'h' AND bucket >= $3 AND bucket <= $4 GROUP BY key
                ) h LEFT JOIN (
                    SELECT user_id, count(*) AS runs FROM ops.runs
                    WHERE started_at > $2 AND started_at < $4::timestamptz + interval '1 hour' AND user_id IS NOT NULL
                    GROUP BY user_id
                ) ahead ON ahead.user_id = h.key
                WHERE h.runs - coalesce(ahead.runs, 0) > 0
                UNION
                SELECT user_id FROM ops.runs WHERE started_at > $1 AND started_at < $3 AND user_id IS NOT NULL
                GROUP BY user_id
                UNION
                SELECT user_id FROM ops.messages WHERE created_at > $1 AND created_at <= $2 AND user_id IS NOT NULL
                GROUP BY user_id
            ) u
            """, [windowStart.sql, now.sql, firstWholeHour.sql, currentHour.sql])
        let agents = try db.query("SELECT count(*), count(*) FILTER (WHERE schedule IS NOT NULL) FROM ops.agents")
        let knownCosts = spent.int(0, 1) ?? 0
        let spentToday = knownCosts > 0 ? spent.double(0, 0) ?? 0 : nil
        let userGauge = BudgetGauge(limitCents: limits.userCents, usedUSD: topUser.rowCount > 0 ? topUser.double(0, 1) ?? 0 : 0)
        let globalGauge = BudgetGauge(limitCents: limits.globalCents, usedUSD: spentToday ?? 0)
        return [
            "runs_today": .int(top.total),
            "cost_today_usd": .from(spentToday.map(roundUSD)),
            "budget_user": ["user_id": .from(topUser.rowCount > 0 ? topUser.string(0, 0) : nil),
                            "limit_cents": .int(userGauge.limitCents), "used_usd": .double(roundUSD(userGauge.usedUSD)),
                            "percent": .from(userGauge.percent)],
            "budget_global": ["limit_cents": .int(globalGauge.limitCents), "used_usd": .double(roundUSD(globalGauge.usedUSD)),
                              "percent": .from(globalGauge.percent)],
            "active_users_24h": .from(active.int(0, 0)),
            "agents_total": .from(agents.int(0, 0)),
            "agents_scheduled": .from(agents.int(0, 1)),
            "latency_ms": ["p50": .from(latency[0]), "p95": .from(latency[1])],
            "errors_last_hour": .from(errors.int(0, 0)),
            "top_agents_today": top.agents,
            "generated_at": .string(now.iso8601),
        ]
    }

    // MARK: top

    /// Agents by runs started in the window, ties by agent_id; cost null when none known.
    public func topAgents(window: SeriesWindow, now: UTCTime, limit: Int) throws -> JSON {
        try topAgentsWithTotal(window: window, now: now, limit: limit).agents
    }

    /// The top agents and the number of runs started in the window by all agents.
    func topAgentsWithTotal(window: SeriesWindow, now: UTCTime, limit: Int) throws -> (agents: JSON, total: Int64) {
        let (start, end) = window.bounds(now: now)
        let memoKey = TopAgentsMemo.Key(start: start.seconds, end: end.seconds, limit: limit)
        if let hit = memo?.lookup(memoKey) { return hit }
        let startedMillis = Timestamp.monotonicMillis()
        // Counts and sums from the hourly aggregates (ops.run_rollup_now, axis s). `total` sums
        // every agent's count before the LIMIT: the summary's runs_today.
        let counts = """
            SELECT key AS agent_id, sum(runs) AS runs, CASE WHEN sum(costs) > 0 THEN sum(cost) END AS cost,
                   sum(sum(runs)) OVER () AS total
            FROM ops.run_rollup_now WHERE axis = 's' AND bucket >= $1 AND bucket < $2
            GROUP BY key HAVING sum(runs) > 0 ORDER BY runs DESC, agent_id ASC LIMIT $3
            """
        let parameters = [start.sql, end.sql, String(limit)]
        let r: PGResult
        let agents: JSON
        if window == .today, let h = durations?.histograms(for: start.dateString) {
            r = try db.query("""
                WITH t AS (\(counts))
                SELECT t.agent_id, a.name, a.owner_email, t.runs, t.cost, NULL, t.total
                FROM t LEFT JOIN ops.agents a ON a.agent_id = t.agent_id ORDER BY t.runs DESC, t.agent_id ASC
                """, parameters)
            agents = Self.topAgentsJSON(r) { h.byAgent[$0]?.percentile(0.95) }
        } else {
            // The percentile, which needs every duration, only over the runs of the agents that
            // made the list: an index-only pass over runs_started (it INCLUDEs agent_id and
            // duration_ms).
            r = try db.query("""
                WITH t AS (\(counts)), p AS (
                    SELECT r.agent_id, percentile_cont(0.95) WITHIN GROUP (ORDER BY r.duration_ms) AS p95
                    FROM ops.runs r WHERE r.started_at >= $1 AND r.started_at < $2 AND r.agent_id IN (SELECT agent_id FROM t)
                    GROUP BY r.agent_id
                )
                SELECT t.agent_id, a.name, a.owner_email, t.runs, t.cost, p.p95, t.total
                FROM t LEFT JOIN ops.agents a ON a.agent_id = t.agent_id LEFT JOIN p ON p.agent_id = t.agent_id
                ORDER BY t.runs DESC, t.agent_id ASC
                """, parameters)
            agents = Self.topAgentsJSON(r) { _ in nil }
        }
        // No row: no run started in the window (a limit is at least 1, so any run makes a row).
        let total = r.rowCount > 0 ? r.int(0, 6) ?? 0 : 0
        memo?.store(memoKey, startedMillis: startedMillis, durationMillis: Timestamp.monotonicMillis() - startedMillis,
                    agents: agents, total: total)
        return (agents, total)
    }

    /// Rows of agent_id, name, owner_email, runs, cost, p95; `p95` overrides a NULL p95 column.
    static func topAgentsJSON(_ r: PGResult, p95: (String) -> Double?) -> JSON {
        .array((0..<r.rowCount).map { i in
            ["agent_id": .from(r.string(i, 0)), "name": .from(r.string(i, 1)), "owner_email": .from(r.string(i, 2)),
             "runs": .from(r.int(i, 3)), "cost_usd": .from(r.double(i, 4).map(roundUSD)),
             "p95_ms": .from(r.double(i, 5) ?? r.string(i, 0).flatMap(p95))]
        })
    }

    /// Users by runs started in the window, ties by user_id; with their known spend.
    public func topUsers(window: SeriesWindow, now: UTCTime, limit: Int) throws -> JSON {
        let (start, end) = window.bounds(now: now)
        let r = try db.query("""
            SELECT key, sum(runs) AS runs, CASE WHEN sum(costs) > 0 THEN sum(cost) END
            FROM ops.run_rollup_now WHERE axis = 'u' AND bucket >= $1 AND bucket < $2
            GROUP BY key HAVING sum(runs) > 0 ORDER BY runs DESC, key ASC LIMIT $3
            """, [start.sql, end.sql, String(limit)])
        return .array((0..<r.rowCount).map { i in
            ["user_id": .from(r.string(i, 0)), "runs": .from(r.int(i, 1)), "cost_usd": .from(r.double(i, 2).map(roundUSD))]
        })
    }

    /// Provider+model pairs by LLM calls in the window, ties by provider then model.
    public func topModels(window: SeriesWindow, now: UTCTime, limit: Int) throws -> JSON {
        let (start, end) = window.bounds(now: now)
        // The window's bounds are whole days: its hours of the LLM aggregates (migration 0016).
        let r = try db.query("""
            SELECT provider, model, sum(calls) AS calls, sum(prompt_tokens), sum(completion_tokens),
                   CASE WHEN sum(costs) > 0 THEN sum(cost) END
            FROM ops.llm_rollup_now WHERE bucket >= $1 AND bucket < $2
            GROUP BY provider, model HAVING sum(calls) <> 0
            ORDER BY calls DESC, provider ASC, model ASC LIMIT $3
            """, [start.sql, end.sql, String(limit)])
        return .array((0..<r.rowCount).map { i in
            ["provider": .from(r.string(i, 0)), "model": .from(r.string(i, 1)), "calls": .from(r.int(i, 2)),
             "prompt_tokens": .from(r.int(i, 3)), "completion_tokens": .from(r.int(i, 4)),
             "cost_usd": .from(r.double(i, 5).map(roundUSD))]
        })
    }

    // MARK: timeseries

    public enum Metric: String, CaseIterable, Sendable {
        case runsByHour = "runs_by_hour", errorsByHour = "errors_by_hour", costByHour = "cost_by_hour"
        public static var accepted: String { allCases.map(\.rawValue).joined(separator: ", ") }
    }

    /// Zero-filled points: hourly for today (`hour_iso`), daily for 7d/30d (`date`).
    public func timeseries(_ metric: Metric, window: SeriesWindow, now: UTCTime) throws -> JSON {
        let (start, end) = window.bounds(now: now)
        // From the hourly aggregates (ops.run_rollup_now): axis s counts runs by start hour,
        // axis f failures and costs by finish hour; a day is the sum of its hours.
        let (axis, value): (String, String)
        switch metric {
        case .runsByHour: (axis, value) = ("s", "runs")
        case .errorsByHour: (axis, value) = ("f", "failed")
        case .costByHour: (axis, value) = ("f", "cost")
        }
        let r = try db.query("""
            SELECT extract(epoch FROM date_trunc($3, bucket, 'UTC'))::bigint, sum(\(value))
            FROM ops.run_rollup_now WHERE axis = $4 AND bucket >= $1 AND bucket < $2
            GROUP BY 1
            """, [start.sql, end.sql, window == .today ? "hour" : "day", axis])
        var values: [Int64: Double] = [:]
        for i in 0..<r.rowCount { if let b = r.int(i, 0) { values[b] = r.double(i, 1) ?? 0 } }
        let key = window == .today ? "hour_iso" : "date"
        return .array(ZeroFill.series(window: window, now: now, values: values).map { p in
            [key: .string(p.label), "value": metric == .costByHour ? .double(roundUSD(p.value)) : .int(Int64(p.value))]
        })
    }

    // MARK: overview and queue

    public func overview(period: OverviewPeriod, now: UTCTime) throws -> JSON {
        // A rolling window (now - period, now]: its whole hours, the current one included, come
        // from the hourly aggregates (migration 0016: runs by created hour and status, LLM calls
        // by hour, provider and model); the partial hour at its start and the current hour's rows
        // dated after now (ingest accepts clocks up to a day ahead) are read from the tables.
        // 1.8 s → 12–20 ms with 1.1M runs and 2.2M calls in 24 h (up to ~90 ms more when the
        // partial first hour is a whole hour at 1M runs a day).
        let windowStart = now.adding(seconds: -period.seconds)
        let firstWholeHour = windowStart.startOfHour.adding(seconds: 3_600)
        let currentHour = now.startOfHour
        let p = [windowStart.sql, now.sql]
        let hours = [windowStart.sql, now.sql, firstWholeHour.sql, currentHour.sql]
        // The rows read from the tables: the partial first hour counts in, the current hour's
        // rows after now count out. Two plain ranges, so each is one index range scan.
        let edges: [(sign: String, after: String, before: String)] = [
            ("", "$1", "$3"), ("-", "$2", "$4::timestamptz + interval '1 hour'")]
        let runs = try db.query("""
            SELECT status, sum(runs), sum(duration_sum)::numeric / nullif(sum(durations), 0)
            FROM (
                SELECT key AS status, runs, duration_sum, durations FROM ops.run_rollup_now
                WHERE axis = 'o' AND bucket >= $3 AND bucket <= $4
                UNION ALL
                \(edges.map { e in """
                SELECT status, \(e.sign)count(*), \(e.sign)coalesce(sum(duration_ms) FILTER (WHERE status = 'success'), 0),
                       \(e.sign)count(duration_ms) FILTER (WHERE status = 'success')
                FROM ops.runs WHERE created_at > \(e.after) AND created_at < \(e.before) GROUP BY status
                """ }.joined(separator: "\nUNION ALL\n"))
            ) x (status, runs, duration_sum, durations)
            GROUP BY status HAVING sum(runs) <> 0
            """, hours)
        var byState = JSONObject(RunStatus.allCases.map { (key: $0.rawValue, value: JSON.int(0)) })
        var total: Int64 = 0, avgRuntime: Double?
        for i in 0..<runs.rowCount {
            let n = runs.int(i, 1) ?? 0
            byState[runs.string(i, 0) ?? ""] = .int(n)
            total += n
            if runs.string(i, 0) == "success" { avgRuntime = runs.double(i, 2) }
        }
        let success = byState["success"]?.intValue ?? 0, failed = byState["failed"]?.intValue ?? 0
        let finished = success + failed
        let llm = try db.query("""
            SELECT provider, model, sum(calls) AS calls, sum(prompt_tokens), sum(completion_tokens),
                   sum(latency_sum)::numeric / nullif(sum(latencies), 0), sum(errors),
                   CASE WHEN sum(costs) > 0 THEN sum(cost) END
            FROM (
                SELECT provider, model, calls, prompt_tokens, completion_tokens, latency_sum, latencies, errors, cost, costs
                FROM ops.llm_rollup_now WHERE bucket >= $3 AND bucket <= $4
                UNION ALL
                \(edges.map { e in """
                SELECT provider, model, \(e.sign)count(*), \(e.sign)coalesce(sum(prompt_tokens), 0),
                       \(e.sign)coalesce(sum(completion_tokens), 0), \(e.sign)coalesce(sum(latency_ms), 0),
                       \(e.sign)count(latency_ms),
                       \(e.sign)count(*) FILTER (WHERE (status IS NOT NULL AND status <> 'ok') OR error_code IS NOT NULL),
                       \(e.sign)coalesce(sum(cost_usd), 0), \(e.sign)count(cost_usd)
                FROM ops.llm_calls WHERE ts > \(e.after) AND ts < \(e.before) GROUP BY provider, model
                """ }.joined(separator: "\nUNION ALL\n"))
            ) x
            GROUP BY provider, model HAVING sum(calls) <> 0
            ORDER BY calls DESC, provider, model
            """, hours)
        var calls: Int64 = 0, prompt: Int64 = 0, completion: Int64 = 0, errors: Int64 = 0, cost: Double?
        var byModel: [JSON] = []
        for i in 0..<llm.rowCount {
            let c = llm.int(i, 2) ?? 0, pt = llm.int(i, 3) ?? 0, ct = llm.int(i, 4) ?? 0, e = llm.int(i, 6) ?? 0
            calls += c; prompt += pt; completion += ct; errors += e
            if let x = llm.double(i, 7) { cost = (cost ?? 0) + x }
            byModel.append(["provider": .from(llm.string(i, 0)), "model": .from(llm.string(i, 1)), "calls": .int(c),
                            "prompt_tokens": .int(pt), "completion_tokens": .int(ct), "total_tokens": .int(pt + ct),
                            "avg_latency_ms": .from(llm.double(i, 5).map { ($0 * 10).rounded() / 10 }),
                            "error_rate": .from(c > 0 ? rate(e, c) : nil), "cost_usd": .from(llm.double(i, 7).map(roundUSD))])
        }
        let failures = try db.query("""
            SELECT r.run_id, r.agent_id, a.name, r.error, \(micros("r.finished_at"))
            FROM ops.runs r LEFT JOIN ops.agents a ON a.agent_id = r.agent_id
            WHERE r.status = 'failed' AND r.finished_at > $1 AND r.finished_at <= $2
            ORDER BY r.finished_at DESC, r.run_id LIMIT 10
            """, p)
        return [
            "period": .string(period.rawValue),
            "runs": ["total": .int(total), "by_state": .object(byState),
                     "success_rate": .from(finished > 0 ? rate(success, finished) : nil),
                     "avg_runtime_ms": .from(avgRuntime.map { ($0 * 10).rounded() / 10 })],
            "llm": ["calls": .int(calls), "prompt_tokens": .int(prompt), "completion_tokens": .int(completion),
                    "total_tokens": .int(prompt + completion), "error_rate": .from(calls > 0 ? rate(errors, calls) : nil),
                    "cost_usd": .from(cost.map(roundUSD)), "by_model": .array(byModel)],
            "recent_failures": .array((0..<failures.rowCount).map { i in
                ["run_id": .from(failures.string(i, 0)), "agent_id": .from(failures.string(i, 1)),
                 "agent_name": .from(failures.string(i, 2)), "error": .from(failures.string(i, 3)),
                 "finished_at": .from(failures.time(i, 4)?.iso8601)]
            }),
        ]
    }

    /// Queues as their latest heartbeats report them.
    public func queues(now: UTCTime) throws -> JSON {
        let r = try db.query("""
            SELECT component, status, metrics::text, \(micros("ts"))
            FROM ops.heartbeats WHERE component_type = 'queue' ORDER BY component
            """)
        var totalDepth: Int64 = 0
        let items: [JSON] = (0..<r.rowCount).map { i in
            let metrics = (try? JSON.parse(r.string(i, 2) ?? "{}")) ?? .object(JSONObject())
            let depth = metrics["depth"]?.intValue
            totalDepth += depth ?? 0
            let ts = r.time(i, 3)
            return ["component": .from(r.string(i, 0)), "status": .from(r.string(i, 1)), "depth": .from(depth),
                    "processing_rate": .from(metrics["processing_rate"]?.doubleValue),
                    "failed": .from(metrics["failed"]?.intValue), "ts": .from(ts?.iso8601),
                    "age_s": .from(ts.map { Double(now.micros - $0.micros) / 1e6 }.map { ($0 * 10).rounded() / 10 })]
        }
        return ["queues": .array(items), "total_depth": .int(totalDepth)]
    }
}

/// USD amounts keep 6 decimals in answers: enough for per-call costs, no float noise.
public func roundUSD(_ v: Double) -> Double { (v * 1_000_000).rounded() / 1_000_000 }

func rate(_ part: Int64, _ whole: Int64) -> Double { (Double(part) / Double(whole) * 10_000).rounded() / 10_000 }

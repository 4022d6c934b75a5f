import Foundation
import OpsActivity
import OpsJSON
import OpsMonitorCore
import OpsPostgres

/// Reads what the alert rules look at, one query (or two) per source, only for the sources
/// that enabled rules need. A source whose query fails stays nil: its rules are skipped for
/// this evaluation instead of seeing "no data" and resolving their alerts.
final class AlertInputsLoader {
    /// Budgets scan the day's runs per user: at most every this many seconds.
    static let budgetEverySeconds: Int64 = 30

    let context: MonitorContext
    private var budgetCache: (at: Int64, sample: AlertBudgetSample)?

    init(_ context: MonitorContext) { self.context = context }

    func load(_ db: DatabaseSession, rules: [AlertRule]) -> AlertInputs {
        let sources = Set(rules.map(\.metric.source))
        var inputs = AlertInputs()
        func attempt<T>(_ source: AlertSource, _ body: () throws -> T) -> T? {
            do { return try body() } catch {
                context.logger.warn("alert source unavailable", [("source", .string(source.rawValue)), ("error", .string("\(error)"))])
                return nil
            }
        }
        if sources.contains(.api) { inputs.api = attempt(.api) { try db.run(api) } }
        if sources.contains(.services) { inputs.services = attempt(.services) { try db.run(services) } }
        if sources.contains(.queues) { inputs.queues = attempt(.queues) { try db.run(queues) } }
        if sources.contains(.disk) { inputs.disk = attempt(.disk) { try db.run(disk) } }
        if sources.contains(.failures) { inputs.failures = attempt(.failures) { try db.run(failures) } }
        if sources.contains(.budget) {
            let budgetRules = rules.filter { $0.metric.source == .budget }
            inputs.budget = attempt(.budget) { try db.run { try budget($0, rules: budgetRules) } }
        }
        return inputs
    }

    /// The current minute and the 4 before it, every route group together.
    func api(_ db: PGConnection) throws -> AlertAPIWindow {
        let r = try db.query("""
            SELECT requests, errors, latency_hist::text FROM ops.api_minutes
            WHERE minute >= date_trunc('minute', now()) - interval '4 minutes'
            """)
        var requests: Int64 = 0, errors: Int64 = 0
        var hist = [Int64](repeating: 0, count: LatencyHistogram.bucketCount)
        for i in 0..<r.rowCount {
            requests += r.int(i, 0) ?? 0
            errors += r.int(i, 1) ?? 0
            hist = LatencyHistogram.add(hist, Self.intArray(r.string(i, 2) ?? "{}"))
        }
        return AlertAPIWindow(requests: requests, errors: errors, latencyHistogram: hist)
    }

    /// `{1,2,3}` → [1, 2, 3].
    static func intArray(_ text: String) -> [Int64] {
        text.split(whereSeparator: { $0 == "{" || $0 == "}" || $0 == "," }).compactMap { Int64($0) }
    }

    /// The latest status of each service this monitor is configured with.
    func services(_ db: PGConnection) throws -> [AlertServiceSample] {
        let configured = context.monitorConfig.services
        guard !configured.isEmpty else { return [] }
        let kinds = Dictionary(configured.map { ($0.name, $0.kind.rawValue) }, uniquingKeysWith: { a, _ in a })
        let r = try db.query("""
            SELECT service, status, message, consecutive_failures, metrics::text, checked_at::text
            FROM ops.service_status WHERE service = ANY($1::text[])
            """, [Self.textArray(configured.map(\.name))])
        return (0..<r.rowCount).compactMap { i in
            guard let name = r.string(i, 0), let kind = kinds[name] else { return nil }
            return AlertServiceSample(name: name, kind: kind, status: r.string(i, 1) ?? "unknown", message: r.string(i, 2),
                                      consecutiveFailures: r.int(i, 3) ?? 0,
                                      metrics: r.string(i, 4).flatMap { try? JSON.parse($0) } ?? [:], checkedAt: r.string(i, 5))
        }
    }

    /// Each queue's latest heartbeat with a depth, if it is recent (a queue that stopped
    /// reporting is the heartbeat probe's business, not a depth).
    func queues(_ db: PGConnection) throws -> [AlertQueueSample] {
        let r = try db.query("""
            SELECT component, metrics->>'depth', ts::text FROM ops.heartbeats
            WHERE component_type = 'queue' AND ts > now() - interval '5 minutes' AND jsonb_typeof(metrics->'depth') = 'number'
            """)
        return (0..<r.rowCount).compactMap { i in
            guard let name = r.string(i, 0), let depth = r.double(i, 1) else { return nil }
            return AlertQueueSample(name: name, depth: depth, ts: r.string(i, 2) ?? "")
        }
    }

    /// The latest capacity sample of the last 5 minutes (empty when there is none).
    func disk(_ db: PGConnection) throws -> AlertDiskSample {
        let r = try db.query("""
            SELECT ts::text, disk::text FROM ops.capacity_samples WHERE ts > now() - interval '5 minutes' ORDER BY ts DESC LIMIT 1
            """)
        guard r.rowCount == 1, let ts = r.string(0, 0), let disk = r.string(0, 1).flatMap({ try? JSON.parse($0) }) else {
            return AlertDiskSample(ts: "", entries: [])
        }
        return AlertDiskSample.parse(ts: ts, disk: disk)
    }

    /// Failed runs per 5-minute window, for the current window and the 24 before it
    /// (oldest first), counted back from now.
    func failures(_ db: PGConnection) throws -> [Int64] {
        let r = try db.query("""
            SELECT floor(extract(epoch FROM now() - finished_at) / 300)::int AS w, count(*)
            FROM ops.runs WHERE status = 'failed' AND finished_at > now() - interval '125 minutes' AND finished_at <= now()
            GROUP BY w
            """)
        var windows = [Int64](repeating: 0, count: 25)
        for i in 0..<r.rowCount {
            guard let w = r.int(i, 0), (0..<25).contains(Int(w)) else { continue }
            windows[24 - Int(w)] = r.int(i, 1) ?? 0
        }
        return windows
    }

    /// Today's (UTC) spend and runs of the users that may be near a limit, and everyone's spend.
    func budget(_ db: PGConnection, rules: [AlertRule]) throws -> AlertBudgetSample {
        let now = UTCTime.now()
        if let cached = budgetCache, now.seconds - cached.at < Self.budgetEverySeconds { return cached.sample }
        let config = context.config
        let (d0, d1) = (now.startOfDay, now.startOfDay.adding(seconds: 86_400))
        // Only users at or past the lowest threshold can breach (">"/">=" rules); a rule
        // with another comparator needs everyone.
        func floor(_ metric: AlertMetric) -> Double? {
            let relevant = rules.filter { $0.metric == metric }
            guard !relevant.isEmpty else { return nil }
            if relevant.contains(where: { $0.comparator == .less || $0.comparator == .lessOrEqual }) { return 0 }
            return relevant.map(\.threshold).min().map { max(0, $0) }
        }
        let spendFloor = config.dailyCostPerUserCents > 0 ? floor(.budgetUser).map { $0 / 100 * Double(config.dailyCostPerUserCents) / 100 } : nil
        let runsFloor = config.dailyRunsPerUser > 0 ? floor(.budgetRuns).map { $0 / 100 * Double(config.dailyRunsPerUser) } : nil
        var users: [AlertBudgetSample.User] = []
        if spendFloor != nil || runsFloor != nil {
            // From the runs' daily aggregates (migration 0014: axis c, spend by finish day and
            // user; axis u, runs by start day and user): a few thousand rows at any size.
            let r = try db.query("""
                WITH spend AS (
                    SELECT key AS user_id, sum(cost) AS spent FROM ops.run_rollup_now
                    WHERE axis = 'c' AND bucket >= $1 AND bucket < $2 GROUP BY key HAVING sum(costs) > 0
                ), started AS (
                    SELECT key AS user_id, sum(runs) AS runs FROM ops.run_rollup_now
                    WHERE axis = 'u' AND bucket >= $1 AND bucket < $2 GROUP BY key HAVING sum(runs) > 0
                )
                SELECT user_id, coalesce(s.spent, 0), coalesce(r.runs, 0)
                FROM spend s FULL JOIN started r USING (user_id)
                WHERE ($3::double precision IS NOT NULL AND coalesce(s.spent, 0) >= $3::double precision)
                   OR ($4::double precision IS NOT NULL AND coalesce(r.runs, 0) >= $4::double precision)
                """, [d0.sql, d1.sql, spendFloor.map { String($0) }, runsFloor.map { String($0) }])
            users = (0..<r.rowCount).compactMap { i in
                r.string(i, 0).map { AlertBudgetSample.User(userID: $0, spentUSD: r.double(i, 1) ?? 0, runs: r.int(i, 2) ?? 0) }
            }
        }
        var global = 0.0
        if config.dailyCostGlobalCents > 0 {
            let g = try db.query("""
                SELECT coalesce(sum(cost), 0) FROM ops.run_rollup_now WHERE axis = 'f' AND bucket >= $1 AND bucket < $2
                """, [d0.sql, d1.sql])
            global = g.double(0, 0) ?? 0
        }
        let sample = AlertBudgetSample(sample: "budget@\(now.iso8601)", userLimitCents: config.dailyCostPerUserCents,
                                       globalLimitCents: config.dailyCostGlobalCents, runsLimit: config.dailyRunsPerUser,
                                       users: users, globalSpentUSD: global)
        budgetCache = (now.seconds, sample)
        return sample
    }

    /// A text[] literal: every element quoted, `"` and `\` escaped (data, never SQL).
    static func textArray(_ values: [String]) -> String {
        "{" + values.map { v in
            "\"" + v.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
        }.joined(separator: ",") + "}"
    }
}

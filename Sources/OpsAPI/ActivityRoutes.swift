import OpsActivity
import OpsHTTP
import OpsJSON
import OpsLedger
import OpsMonitorCore
import OpsPostgres
#if canImport(Glibc)
import Glibc
#endif

/// The activity ledger's routes: ingest and budget check for the host app, and the KPI
/// reads for admins. Aggregate reads go through the shared answer cache.
enum ActivityRoutes {
    // MARK: ingest

    /// `POST /api/ops/ingest`: NDJSON or a JSON array; per-record errors, good records kept.
    static func ingest(_ request: Request, _ context: AppContext) throws -> Response {
        let items: [Result<JSON, RecordError>]
        do {
            items = try BatchParser.parse(request.body, contentType: request.header("content-type"))
        } catch {
            throw APIError(status: error.status, code: error.code, message: error.message)
        }
        let validator = RecordValidator(now: UTCTime.now())
        var errors: [JSON] = []
        // The last record with an identity wins; earlier duplicates count as accepted.
        var byIdentity: [String: Int] = [:]
        var records: [IngestRecord] = []
        for (index, item) in items.enumerated() {
            let result = item.flatMap { validator.validate($0) }
            switch result {
            case .success(let record):
                if let at = byIdentity[record.identity] {
                    records[at] = record
                } else {
                    byIdentity[record.identity] = records.count
                    records.append(record)
                }
            case .failure(let e):
                errors.append(["index": .int(Int64(index)), "code": .string(e.code), "message": .string(e.message)])
            }
        }
        let accepted = items.count - errors.count
        if !records.isEmpty {
            // A whole transaction: safe to repeat on a fresh connection after Postgres restarted.
            let outcome = try context.database.run { try IngestStore(connection: $0).store(records) }
            if outcome.events > 0 {
                context.logger.debug("ingest", [("request_id", .string(request.requestID)),
                                               ("changed", .int(Int64(outcome.changedRecords))), ("events", .int(Int64(outcome.events)))])
            }
        }
        return .json(["accepted": .int(Int64(accepted)), "rejected": .int(Int64(errors.count)), "errors": .array(errors)])
    }

    // MARK: budget

    /// `POST /api/ops/budget/check` `{"user_id", "is_admin"?}`.
    static func budgetCheck(_ request: Request, _ context: AppContext) throws -> Response {
        let object = try JSONBody.object(request, accepted: ["user_id", "is_admin"], example: #"{"user_id":"u-1"}"#)
        let userID: String
        switch object["user_id"] {
        case .string(let s) where !s.isEmpty && s.utf8.count <= 200: userID = s
        case .int(let i): userID = String(i)
        default: throw APIError.badRequest("invalid_field", "'user_id' must be a non-empty string (or an integer).")
        }
        var isAdmin = false
        if let v = object["is_admin"], v != .null {
            guard let b = v.boolValue else { throw APIError.badRequest("invalid_field", "'is_admin' must be a boolean.") }
            isAdmin = b
        }
        let config = context.config
        let at = UTCTime.now()
        let usage = try context.database.run { db in
            try BudgetStore(connection: db, cache: cache(db, context)).usage(userID: userID, now: at)
        }
        let user = BudgetGauge(limitCents: config.dailyCostPerUserCents, usedUSD: usage.userSpentUSD)
        let global = BudgetGauge(limitCents: config.dailyCostGlobalCents, usedUSD: usage.globalSpentUSD)
        let decision = BudgetDecision.decide(user: user, global: global, runsUsed: usage.userRunsToday,
                                             runsLimit: config.dailyRunsPerUser, isAdmin: isAdmin)
        let answerJSON: JSON = [
            "allowed": .bool(decision.allowed),
            "user": ["user_id": .string(userID), "limit_cents": .int(user.limitCents), "used_usd": .double(roundUSD(user.usedUSD)),
                     "percent": .from(user.percent)],
            "global": ["limit_cents": .int(global.limitCents), "used_usd": .double(roundUSD(global.usedUSD)),
                       "percent": .from(global.percent)],
            "runs": ["limit": .int(config.dailyRunsPerUser), "used": .int(usage.userRunsToday)],
        ]
        var answer = answerJSON.objectValue!
        if let reason = decision.reason { answer["reason"] = .string(reason) }
        if decision.level != .ok {
            try raiseBudgetAlert(decision, userID: userID, user: user, global: global, runsUsed: usage.userRunsToday,
                                 isAdmin: isAdmin, answer: .object(answer), context)
        }
        return .json(.object(answer), status: decision.allowed ? 200 : 429)
    }

    /// Each gauge at ≥ 80 % raises the monitor's budget alert for it — `budget_user:<user>`,
    /// `budget_global:global`, `budget_runs:<user>` (runs: non-admins only) — warning, or
    /// critical at ≥ 100 %. The keys, titles and severities are the monitor's periodic budget
    /// rules' (AlertRuleEvaluator), so a check and the monitor raise one alert, not two; the
    /// alert is de-bounced, so a host app that keeps asking does not flood Discord. Every
    /// denial publishes its `budget_denied` event (the ticker shows each refused run).
    static func raiseBudgetAlert(_ decision: BudgetDecision, userID: String, user: BudgetGauge, global: BudgetGauge,
                                 runsUsed: Int64, isAdmin: Bool, answer: JSON, _ context: AppContext) throws {
        let rules = Dictionary(AlertRule.defaults.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        var observations: [AlertObservation] = []
        if let o = AlertRuleEvaluator.budgetUser(rules["budget_user"]!, userID: userID, spentUSD: user.usedUSD,
                                                 limitCents: user.limitCents, sample: nil), o.breached { observations.append(o) }
        if let o = AlertRuleEvaluator.budgetGlobal(rules["budget_global"]!, spentUSD: global.usedUSD,
                                                   limitCents: global.limitCents, sample: nil), o.breached { observations.append(o) }
        if !isAdmin, let o = AlertRuleEvaluator.budgetRuns(rules["budget_runs"]!, userID: userID, runs: runsUsed,
                                                           limit: context.config.dailyRunsPerUser, sample: nil), o.breached {
            observations.append(o)
        }
        let denied = decision.level == .denied
        let deniedRule = ["user_budget": "budget_user", "global_budget": "budget_global", "user_runs": "budget_runs"][decision.reason ?? ""]
        let notifier = AlertRoutes.notifier(context.config)
        try context.database.run { db in
            try db.transaction {
                let store = AlertStore(connection: db)
                var ids: [String: Int64] = [:]
                for o in observations {
                    var detail = o.detail.objectValue ?? JSONObject()
                    detail["budget_check"] = answer
                    ids[o.rule] = try store.fireInTransaction(AlertRoutes.firing(o, detail: .object(detail)), notifier: notifier).id
                }
                if denied {
                    try EventLog(connection: db).append([("budget_denied", ["type": "budget_denied", "user_id": .string(userID),
                                                                             "reason": .from(decision.reason),
                                                                             "alert_id": .from(deniedRule.flatMap { ids[$0] })])])
                }
            }
        }
    }

    // MARK: admin reads

    static func cache(_ db: PGConnection, _ context: AppContext) -> AnswerCache {
        AnswerCache(connection: db, policy: context.cachePolicy, logger: context.logger)
    }

    /// A cached JSON answer, sent as stored (no re-serialisation).
    static func cachedAnswer(_ answer: CachedAnswer, _ context: AppContext, now: UTCTime) throws -> Response {
        let body = try context.database.run { db in try cache(db, context).answer(answer, now: now) }
        return Response(status: 200, headers: [HTTPHeader("Content-Type", "application/json"),
                                                HTTPHeader("Cache-Control", "no-store")], body: Array(body.utf8))
    }

    static func summary(_ request: Request, _ context: AppContext) throws -> Response {
        _ = try QueryParameters(request, allowed: [])
        let t = UTCTime.now()
        return try cachedAnswer(.summary(date: t.dateString, userCents: context.config.dailyCostPerUserCents,
                                         globalCents: context.config.dailyCostGlobalCents), context, now: t)
    }

    static func timeseries(_ request: Request, _ context: AppContext) throws -> Response {
        let q = try QueryParameters(request, allowed: ["metric", "window"])
        let metric = try q.choice("metric", ActivityQueries.Metric.self, fallback: nil)
        let window = try q.choice("window", SeriesWindow.self, fallback: .today)
        let t = UTCTime.now()
        return try cachedAnswer(.timeseries(metric, window, date: t.dateString), context, now: t)
    }

    static func top(_ request: Request, _ context: AppContext) throws -> Response {
        let q = try QueryParameters(request, allowed: ["kind", "window", "limit"])
        let kind = try q.choice("kind", CachedAnswer.TopKind.self, fallback: .agents)
        let window = try q.choice("window", SeriesWindow.self, fallback: .today)
        let limit = try q.integer("limit", in: 1...100, fallback: 5)
        let t = UTCTime.now()
        return try cachedAnswer(.top(kind, window, limit: limit, date: t.dateString), context, now: t)
    }

    static func overview(_ request: Request, _ context: AppContext) throws -> Response {
        let q = try QueryParameters(request, allowed: ["period"])
        let period = try q.choice("period", OverviewPeriod.self, fallback: .h24)
        return try cachedAnswer(.overview(period), context, now: UTCTime.now())
    }

    static func queue(_ request: Request, _ context: AppContext) throws -> Response {
        _ = try QueryParameters(request, allowed: [])
        let t = UTCTime.now()
        return .json(try context.database.run { try ActivityQueries(connection: $0).queues(now: t) })
    }
}

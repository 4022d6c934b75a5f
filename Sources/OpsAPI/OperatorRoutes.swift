import OpsActivity
import OpsHTTP
import OpsJSON
import OpsLedger
import OpsMonitorCore

/// `/operator/system/*` with the Operator System Dashboard seed's shapes, read from what the
/// monitor stores, the ledger and Postgres' statistics views. A source with no data yet
/// answers zeros and `warnings`.
enum OperatorRoutes {
    /// `GET /operator/system/health`.
    static func health(_ request: Request, _ context: AppContext) throws -> Response {
        _ = try QueryParameters(request, allowed: [])
        let now = UTCTime.now()
        return .json(try context.database.run { try MonitoringHealthQueries(connection: $0).operatorHealth(now: now) })
    }

    /// `GET /operator/system/metrics`: throughput and API latency over the last 60 s.
    static func metrics(_ request: Request, _ context: AppContext) throws -> Response {
        _ = try QueryParameters(request, allowed: [])
        let now = UTCTime.now()
        return .json(try context.database.run {
            try MonitoringSystemQueries(connection: $0).metrics(now: now) { LatencyHistogram.percentile($0, $1) }
        })
    }

    /// `GET /operator/system/capacity`.
    static func capacity(_ request: Request, _ context: AppContext) throws -> Response {
        _ = try QueryParameters(request, allowed: [])
        let now = UTCTime.now()
        return .json(try context.database.run { try MonitoringSystemQueries(connection: $0).capacity(now: now) })
    }

    /// `GET /operator/system/aggregates`. Runs today, active users and agents come from the
    /// same cached answer as `/api/ops/summary` (equally fresh, cheap at any data size).
    static func aggregates(_ request: Request, _ context: AppContext) throws -> Response {
        _ = try QueryParameters(request, allowed: [])
        let now = UTCTime.now()
        let config = context.config
        let summaryText = try context.database.run { db in
            try ActivityRoutes.cache(db, context).answer(.summary(date: now.dateString, userCents: config.dailyCostPerUserCents,
                                                                  globalCents: config.dailyCostGlobalCents), now: now)
        }
        let summary = (try? JSON.parse(summaryText)) ?? .object(JSONObject())
        let configured = !config.discordWebhookURL.isEmpty
        return .json(try context.database.run {
            try MonitoringSystemQueries(connection: $0).aggregates(now: now, summary: summary,
                                                                   discordEnabled: configured && config.discordEnableAlerts,
                                                                   discordConfigured: configured)
        })
    }

    /// `GET /operator/system/errors?limit=1..50` (default 20).
    static func errors(_ request: Request, _ context: AppContext) throws -> Response {
        let q = try QueryParameters(request, allowed: ["limit"])
        let limit = try q.integer("limit", in: 1...50, fallback: 20)
        let now = UTCTime.now()
        return .json(try context.database.run { try MonitoringSystemQueries(connection: $0).errors(limit: limit, now: now) })
    }
}

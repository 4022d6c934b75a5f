import OpsActivity
import OpsHTTP
import OpsJSON
import OpsLedger

/// `/api/monitoring/*`: service health, database, cache, workers, events (the performance
/// route has its own file). Read from what the monitor stores, plus Postgres' statistics
/// views for the database routes; a source with no data yet answers zeros and `warnings`.
enum MonitoringRoutes {
    static func notYet(_ request: Request, _ context: AppContext) throws -> Response {
        throw APIError(status: 501, code: "not_implemented", message: "This route is not implemented yet.")
    }

    /// `GET /api/monitoring/health`: every active service's latest status and the worst of them.
    static func health(_ request: Request, _ context: AppContext) throws -> Response {
        _ = try QueryParameters(request, allowed: [])
        let now = UTCTime.now()
        return .json(try context.database.run { try MonitoringHealthQueries(connection: $0).health(now: now) })
    }

    /// `GET /api/monitoring/health/module/{name}?range=1h|6h|24h|7d`; 404 lists known names.
    static func healthModule(_ request: Request, _ context: AppContext) throws -> Response {
        let q = try QueryParameters(request, allowed: ["range"])
        let range = try q.choice("range", MonitoringRange.self, fallback: .h1)
        let name = request.pathParameters["name"] ?? ""
        let now = UTCTime.now()
        let answer: Result<JSON, APIError> = try context.database.run { db in
            let queries = MonitoringHealthQueries(connection: db)
            if let found = try queries.module(name: name, range: range, now: now) { return .success(found) }
            return .failure(unknownName("service", name, known: try queries.knownNames()))
        }
        return .json(try answer.get())
    }

    /// 404 `not_found` naming what exists: `{"error":{"code","message","known":[…]}}`.
    static func unknownName(_ what: String, _ name: String, known: [String]) -> APIError {
        let shown = known.isEmpty ? "none is configured" : "known: \(known.joined(separator: ", "))"
        return APIError(status: 404, code: "not_found", message: "No \(what) named '\(name.prefix(100))'; \(shown).",
                        details: JSONObject([("known", .array(known.map(JSON.string)))]))
    }

    /// `GET /api/monitoring/database`.
    static func database(_ request: Request, _ context: AppContext) throws -> Response {
        _ = try QueryParameters(request, allowed: [])
        let now = UTCTime.now()
        return .json(try context.database.run { try MonitoringDatabaseQueries(connection: $0).database(now: now) })
    }

    /// `GET /api/monitoring/db/pool`.
    static func dbPool(_ request: Request, _ context: AppContext) throws -> Response {
        _ = try QueryParameters(request, allowed: [])
        let now = UTCTime.now()
        return .json(try context.database.run { try MonitoringDatabaseQueries(connection: $0).pool(now: now) })
    }

    /// `GET /api/monitoring/cache/stats[?service=NAME]`: the newest probed Redis service, or
    /// the one named.
    static func cacheStats(_ request: Request, _ context: AppContext) throws -> Response {
        let q = try QueryParameters(request, allowed: ["service"])
        let service = q.query["service"]
        let now = UTCTime.now()
        let answer = try context.database.run { try MonitoringRuntimeQueries(connection: $0).cacheStats(service: service, now: now) }
        switch answer {
        case .found(let json): return .json(json)
        case .unknownService(let known): throw unknownName("Redis service", service ?? "", known: known)
        }
    }

    /// `GET /api/monitoring/workers/status`.
    static func workersStatus(_ request: Request, _ context: AppContext) throws -> Response {
        _ = try QueryParameters(request, allowed: [])
        let now = UTCTime.now()
        return .json(try context.database.run { try MonitoringRuntimeQueries(connection: $0).workers(now: now) })
    }

    /// `GET /api/monitoring/events?range=1h|6h|24h|7d`.
    static func events(_ request: Request, _ context: AppContext) throws -> Response {
        let q = try QueryParameters(request, allowed: ["range"])
        let range = try q.choice("range", MonitoringRange.self, fallback: .h1)
        let now = UTCTime.now()
        return .json(try context.database.run { try MonitoringRuntimeQueries(connection: $0).events(range: range, now: now) })
    }

    /// `GET /api/monitoring/events/history?limit=1..500`.
    static func eventsHistory(_ request: Request, _ context: AppContext) throws -> Response {
        let q = try QueryParameters(request, allowed: ["limit"])
        let limit = try q.integer("limit", in: 1...500, fallback: 100)
        return .json(try context.database.run { try MonitoringRuntimeQueries(connection: $0).history(limit: limit) })
    }
}

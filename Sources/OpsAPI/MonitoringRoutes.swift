import OpsHTTP
import OpsJSON

/// `/api/monitoring/*`: service health, API performance, database, cache, workers, events.
/// Read from what the monitor stores; a source with no data yet answers zeros and `warnings`.
enum MonitoringRoutes {
    static func notYet(_ request: Request, _ context: AppContext) throws -> Response {
        throw APIError(status: 501, code: "not_implemented", message: "This route is not implemented yet.")
    }
    static let health = notYet
    static let healthModule = notYet
    static let database = notYet
    static let dbPool = notYet
    static let cacheStats = notYet
    static let workersStatus = notYet
    static let events = notYet
    static let eventsHistory = notYet
}

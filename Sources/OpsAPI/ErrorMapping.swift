import OpsHTTP
import OpsLog
import OpsPostgres

/// Turns errors that are not `APIError`s into answers a client can act on, and logs the
/// details that the client must not see.
public func mapError(_ error: Error, _ request: Request, logger: Logger) -> APIError? {
    guard let pg = error as? PGError else {
        logger.error("unhandled error", [("request_id", .string(request.requestID)), ("error", .string("\(error)"))])
        return nil
    }
    if pg.isUnavailable {
        logger.warn("database unavailable", [("request_id", .string(request.requestID)), ("error", .string(pg.description))])
        return APIError(status: 503, code: "database_unavailable",
                        message: "The database is unavailable; retry shortly.",
                        headers: [HTTPHeader("Retry-After", "5")])
    }
    if pg.sqlState == "57014" {
        logger.warn("statement timeout", [("request_id", .string(request.requestID)), ("error", .string(pg.description))])
        return APIError(status: 503, code: "database_timeout",
                        message: "The database did not answer in time; retry shortly.",
                        headers: [HTTPHeader("Retry-After", "5")])
    }
    logger.error("database error", [("request_id", .string(request.requestID)), ("error", .string(pg.description))])
    return nil
}

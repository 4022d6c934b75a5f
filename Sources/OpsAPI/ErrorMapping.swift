import OpsHTTP
import OpsLedger
import OpsLog
import OpsPostgres

/// Turns errors that are not `APIError`s into answers a client can act on, and logs the
/// details that the client must not see.
public func mapError(_ error: Error, _ request: Request, logger: Logger) -> APIError? {
    if error is AnswerComputing {
        return APIError(status: 503, code: "answer_computing",
                        message: "This answer takes longer to compute than a request may wait; it is being computed in the background. Retry in a few seconds.",
                        headers: [HTTPHeader("Retry-After", "5")])
    }
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
    // SQLSTATE class 53 (insufficient resources: disk full 53100, out of memory 53200, too many
    // connections 53300): the write was refused and nothing was stored, so the client may retry
    // once an operator has made room. A 507 names the cause instead of a bare internal_error.
    if let state = pg.sqlState, state.hasPrefix("53") {
        logger.error("database out of resources", [("request_id", .string(request.requestID)), ("error", .string(pg.description))])
        let diskFull = state == "53100"
        return APIError(status: diskFull ? 507 : 503, code: diskFull ? "database_disk_full" : "database_out_of_resources",
                        message: diskFull
                            ? "The database has no disk space left; nothing from this request was stored. Retry after space is freed."
                            : "The database is out of resources (SQLSTATE \(state)); nothing from this request was stored. Retry shortly.",
                        headers: [HTTPHeader("Retry-After", diskFull ? "30" : "5")])
    }
    logger.error("database error", [("request_id", .string(request.requestID)), ("error", .string(pg.description))])
    return nil
}

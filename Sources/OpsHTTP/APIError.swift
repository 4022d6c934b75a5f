import OpsJSON

/// The one error type of the API. It renders itself as `{"error":{"code","message"}}` and
/// carries the HTTP status; `code` is a stable machine-readable word, `message` is for people.
public struct APIError: Error, Equatable, CustomStringConvertible, Sendable {
    public let status: Int
    public let code: String
    public let message: String
    /// Extra response headers (for example `Allow` on 405, `Retry-After` on 503).
    public let headers: [HTTPHeader]
    /// Extra members of the error object (for example the list of accepted values).
    public let details: JSONObject

    public init(status: Int, code: String, message: String, headers: [HTTPHeader] = [],
                details: JSONObject = JSONObject()) {
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers
        self.details = details
    }

    public var description: String { "\(status) \(code): \(message)" }

    public var json: JSON {
        var error = JSONObject([("code", .string(code)), ("message", .string(message))])
        for (k, v) in details.entries { error[k] = v }
        return .object(JSONObject([("error", .object(error))]))
    }

    public static func badRequest(_ code: String, _ message: String) -> APIError {
        APIError(status: 400, code: code, message: message)
    }

    public static func notFound(_ message: String) -> APIError {
        APIError(status: 404, code: "not_found", message: message)
    }

    public static func unauthenticated(_ message: String = "Authentication required: send a valid token.") -> APIError {
        APIError(status: 401, code: "unauthenticated", message: message)
    }

    public static func forbidden(_ message: String = "This route needs a role you do not have.") -> APIError {
        APIError(status: 403, code: "forbidden", message: message)
    }

    public static func methodNotAllowed(_ method: String, allowed: [String]) -> APIError {
        APIError(status: 405, code: "method_not_allowed",
                 message: "Method \(method) is not allowed here; allowed: \(allowed.joined(separator: ", ")).",
                 headers: [HTTPHeader("Allow", allowed.joined(separator: ", "))])
    }

    public static func bodyTooLarge(limit: Int) -> APIError {
        APIError(status: 413, code: "body_too_large",
                 message: "Request body is larger than the limit of \(limit) bytes.")
    }

    public static func internalError(requestID: String) -> APIError {
        APIError(status: 500, code: "internal_error",
                 message: "Internal error; the server log has the details under request id \(requestID).")
    }
}

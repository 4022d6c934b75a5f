import OpsJSON

/// An HTTP response: status, headers and the body bytes.
public struct Response: Sendable {
    public var status: Int
    public var headers: [HTTPHeader]
    public var body: [UInt8]

    public init(status: Int = 200, headers: [HTTPHeader] = [], body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// A JSON response. `Cache-Control: no-store` because every API answer is live data.
    public static func json(_ value: JSON, status: Int = 200, headers: [HTTPHeader] = []) -> Response {
        Response(status: status,
                 headers: [HTTPHeader("Content-Type", "application/json"),
                           HTTPHeader("Cache-Control", "no-store")] + headers,
                 body: value.serializedBytes())
    }

    public static func error(_ error: APIError) -> Response {
        json(error.json, status: error.status, headers: error.headers)
    }

    public static func noContent(headers: [HTTPHeader] = []) -> Response {
        Response(status: 204, headers: headers)
    }

    public func header(_ name: String) -> String? {
        let lower = name.lowercased()
        return headers.first(where: { $0.name.lowercased() == lower })?.value
    }
}

/// Reason phrases for the CGI `Status:` line.
public func reasonPhrase(_ status: Int) -> String {
    switch status {
    case 200: return "OK"
    case 201: return "Created"
    case 202: return "Accepted"
    case 204: return "No Content"
    case 301: return "Moved Permanently"
    case 302: return "Found"
    case 304: return "Not Modified"
    case 400: return "Bad Request"
    case 401: return "Unauthorized"
    case 403: return "Forbidden"
    case 404: return "Not Found"
    case 405: return "Method Not Allowed"
    case 409: return "Conflict"
    case 411: return "Length Required"
    case 413: return "Content Too Large"
    case 415: return "Unsupported Media Type"
    case 422: return "Unprocessable Content"
    case 429: return "Too Many Requests"
    case 500: return "Internal Server Error"
    case 502: return "Bad Gateway"
    case 503: return "Service Unavailable"
    case 504: return "Gateway Timeout"
    case 507: return "Insufficient Storage"
    default: return "Status \(status)"
    }
}

import OpsJSON

/// What opsctl exits with. Scripts branch on these; `opsctl --help` and the README list them.
public enum ExitStatus: Int32, CaseIterable, Sendable {
    /// Success.
    case ok = 0
    /// Any other failure: the server refused the request (400, 409, 429 and other 4xx), a
    /// redirect, an answer opsctl cannot read, a local file that cannot be written.
    case failure = 1
    /// Usage: unknown command or option, missing or invalid argument, no server URL configured.
    case usage = 2
    /// Authentication or permission: 401, 403, close code 4401/4403 on the ticker, no token
    /// configured, or a config file opsctl refuses to read.
    case auth = 3
    /// Not found: 404 (unknown log service, unknown alert id, a route the server does not have).
    case notFound = 4
    /// Server error or unreachable: 5xx, connection refused, DNS failure, timeout, TLS failure.
    case server = 5

    /// The exit status for an HTTP status that is not a success.
    public static func forHTTPStatus(_ status: Int) -> ExitStatus {
        switch status {
        case 200..<300: return .ok
        case 401, 403: return .auth
        case 404: return .notFound
        case 500..<600: return .server
        default: return .failure
        }
    }

    /// The exit status for a WebSocket close code from the ticker.
    public static func forCloseCode(_ code: Int) -> ExitStatus? {
        switch code {
        case 4401, 4403: return .auth
        case 4404: return .notFound
        default: return nil
        }
    }

    /// One line per status, for `opsctl --help` and the README.
    public static let table: String = """
        0  success
        1  other failure: the server refused the request (400 invalid
           parameter, 409 conflict, 429 rate limited, other 4xx), a redirect,
           an unreadable answer, a file not written
        2  usage: unknown command or option, bad argument, no server URL
        3  authentication: 401 or 403 (bad, expired or revoked token; a viewer
           token on an admin command), ticker close 4401/4403, no token
           configured, a config file others can read
        4  not found: 404 (unknown log service, unknown alert id)
        5  server error or unreachable: 5xx, connection refused, timeout, DNS
           or TLS failure
        """
}

/// A failure opsctl reports as one line on stderr, `opsctl: <message> (<code>)`, and exits with.
/// `code` is the API's error code when the server sent one, otherwise opsctl's own
/// (`unreachable`, `timeout`, `tls`, `no_token`, `usage`, …).
public struct Failure: Error, Equatable, Sendable {
    public var status: ExitStatus
    public var code: String
    public var message: String
    /// The HTTP status, when the failure is an answer from the server.
    public var httpStatus: Int?

    public init(_ status: ExitStatus, code: String, _ message: String, httpStatus: Int? = nil) {
        self.status = status
        self.code = code
        self.message = message
        self.httpStatus = httpStatus
    }

    /// The line printed on stderr (without the newline): one line, secrets redacted.
    public func line(secrets: [String] = []) -> String {
        Redactor.oneLine("opsctl: \(message) (\(code))", secrets: secrets)
    }

    /// A non-2xx answer: the API's error envelope `{"error":{"code","message"}}` when there is
    /// one, otherwise the status line and the start of the body.
    public static func fromResponse(status: Int, body: [UInt8], contentType: String?) -> Failure {
        let exit = ExitStatus.forHTTPStatus(status)
        if let json = try? JSON.parse(body), let error = json["error"]?.objectValue,
           let code = error["code"]?.stringValue, !code.isEmpty {
            let message = error["message"]?.stringValue ?? ""
            return Failure(exit, code: code, message.isEmpty ? "HTTP \(status)" : message, httpStatus: status)
        }
        var message = "HTTP \(status) \(reasonPhrase(status))"
        let text = String(decoding: body.prefix(200), as: UTF8.self)
        let looksLikeText = (contentType ?? "").hasPrefix("text/plain") || (contentType ?? "").contains("json")
        if looksLikeText, !text.trimmed.isEmpty {
            message += ": " + text.trimmed
        }
        return Failure(exit, code: "http_\(status)", message, httpStatus: status)
    }

    /// A request that got no answer: libcurl's message, classified.
    public static func transport(_ detail: String, timedOut: Bool, url: String) -> Failure {
        let lower = detail.lowercased()
        let code: String
        if timedOut || lower.contains("timed out") || lower.contains("timeout") {
            code = "timeout"
        } else if lower.contains("ssl") || lower.contains("tls") || lower.contains("certificate") {
            code = "tls"
        } else if lower.contains("resolve") {
            code = "dns"
        } else {
            code = "unreachable"
        }
        return Failure(.server, code: code, "cannot reach \(url): \(detail)")
    }

    static func reasonPhrase(_ status: Int) -> String {
        switch status {
        case 400: return "Bad Request"
        case 401: return "Unauthorized"
        case 403: return "Forbidden"
        case 404: return "Not Found"
        case 405: return "Method Not Allowed"
        case 409: return "Conflict"
        case 413: return "Payload Too Large"
        case 429: return "Too Many Requests"
        case 500: return "Internal Server Error"
        case 501: return "Not Implemented"
        case 502: return "Bad Gateway"
        case 503: return "Service Unavailable"
        case 504: return "Gateway Timeout"
        default: return ""
        }
    }
}

extension String {
    /// Without leading and trailing white space and newlines.
    public var trimmed: String {
        var s = Substring(self)
        while let f = s.first, f.isWhitespace || f.isNewline { s = s.dropFirst() }
        while let l = s.last, l.isWhitespace || l.isNewline { s = s.dropLast() }
        return String(s)
    }
}

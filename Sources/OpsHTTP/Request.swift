/// An HTTP request as the workers see it, already validated: the path is percent-decoded
/// segment by segment, the query parsed, the body read within its size cap.
public struct Request: Sendable {
    public let method: String
    /// The raw path as sent (before decoding), used in logs.
    public let rawPath: String
    /// Decoded path segments (`/api/ops/alerts/7/ack` → ["api","ops","alerts","7","ack"]).
    public let segments: [String]
    public let query: QueryString
    /// Header names lowercased, `-` kept (`content-type`).
    public let headers: [String: String]
    public let body: [UInt8]
    public let remoteAddress: String
    public let requestID: String
    /// Identity established by nginx `auth_request` and passed as FastCGI params that no
    /// client header can produce (`OPS_ROLE`, `OPS_SUBJECT`).
    public let role: String?
    public let subject: String?
    /// True for nginx's `auth_request` subrequest (FastCGI param `OPS_AUTH_REQUEST=1`); its
    /// method and URI are those of the request being authorised.
    public let isAuthSubrequest: Bool
    /// Filled by the router from `{name}` pattern segments.
    public var pathParameters: [String: String] = [:]

    public init(method: String, rawPath: String, segments: [String], query: QueryString,
                headers: [String: String], body: [UInt8], remoteAddress: String, requestID: String,
                role: String?, subject: String?, isAuthSubrequest: Bool = false) {
        self.method = method
        self.rawPath = rawPath
        self.segments = segments
        self.query = query
        self.headers = headers
        self.body = body
        self.remoteAddress = remoteAddress
        self.requestID = requestID
        self.role = role
        self.subject = subject
        self.isAuthSubrequest = isAuthSubrequest
    }

    public var path: String { "/" + segments.joined(separator: "/") }

    public func header(_ name: String) -> String? { headers[name.lowercased()] }

    /// Splits and decodes a raw path. `//` and a trailing `/` produce no empty segments, so
    /// `/api/ops/healthz/` routes like `/api/ops/healthz`.
    public static func decodePath(_ rawPath: String) throws(APIError) -> [String] {
        var segments: [String] = []
        for part in rawPath.split(separator: "/", omittingEmptySubsequences: true) {
            let segment: String
            do {
                segment = try PercentDecoding.decode(part, plusAsSpace: false)
            } catch {
                throw APIError.badRequest("bad_path", "The request path is not valid: \(explain(error)).")
            }
            // nginx picks its location on the normalised path; the workers route on the raw
            // one. Refusing dot segments keeps the two from ever meaning different routes.
            if segment == "." || segment == ".." {
                throw APIError.badRequest("bad_path", "The request path must not contain '.' or '..' segments.")
            }
            segments.append(segment)
        }
        return segments
    }
}

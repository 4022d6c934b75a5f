/// A route: method, path pattern (`/api/ops/alerts/{id}/ack`), who may call it, and the
/// handler. `Context` is whatever per-thread state the handlers need (a database session).
public struct Route<Context>: @unchecked Sendable {
    public typealias Handler = (Request, Context) throws -> Response

    public let method: String
    public let pattern: String
    public let access: Access
    public let summary: String
    public let handler: Handler
    let parts: [PatternPart]

    public init(_ method: String, _ pattern: String, access: Access, summary: String = "",
                handler: @escaping Handler) {
        self.method = method
        self.pattern = pattern
        self.access = access
        self.summary = summary
        self.handler = handler
        self.parts = pattern.split(separator: "/").map { seg in
            if seg.hasPrefix("{") && seg.hasSuffix("}") {
                return .parameter(String(seg.dropFirst().dropLast()))
            }
            return .literal(String(seg))
        }
    }

    /// Path parameters when `segments` fit the pattern, else nil.
    func match(_ segments: [String]) -> [String: String]? {
        guard segments.count == parts.count else { return nil }
        var params: [String: String] = [:]
        for (part, segment) in zip(parts, segments) {
            switch part {
            case .literal(let l): if l != segment { return nil }
            case .parameter(let name): params[name] = segment
            }
        }
        return params
    }
}

enum PatternPart: Equatable {
    case literal(String)
    case parameter(String)
}

/// What the router decided for a method and path.
public enum RouteResolution<Context> {
    case found(Route<Context>, [String: String])
    case methodNotAllowed(allowed: [String])
    case notFound
}

/// The route table. Routes are tried in order; the first whose pattern and method fit wins.
/// A path that fits some pattern with another method gives 405 with `Allow`.
public struct Router<Context>: @unchecked Sendable {
    public let routes: [Route<Context>]

    public init(_ routes: [Route<Context>]) {
        self.routes = routes
    }

    public func resolve(method: String, segments: [String]) -> RouteResolution<Context> {
        // HEAD is answered like GET; the transport drops the body.
        let wanted = method == "HEAD" ? "GET" : method
        var allowed: [String] = []
        for route in routes {
            guard let params = route.match(segments) else { continue }
            if route.method == wanted { return .found(route, params) }
            if !allowed.contains(route.method) { allowed.append(route.method) }
        }
        if allowed.isEmpty { return .notFound }
        if allowed.contains("GET") { allowed.append("HEAD") }
        return .methodNotAllowed(allowed: allowed)
    }

    /// Routes, checks access, runs the handler, and turns every thrown error into the error
    /// envelope. `mapError` converts non-API errors (database failures) into `APIError`s;
    /// whatever it returns nil for becomes a 500 that names the request id.
    public func dispatch(_ request: Request, context: Context,
                         mapError: (Error, Request) -> APIError?) -> Response {
        switch resolve(method: request.method, segments: request.segments) {
        case .notFound:
            return .error(.notFound("No route for \(request.method) \(request.path)."))
        case .methodNotAllowed(let allowed):
            return .error(.methodNotAllowed(request.method, allowed: allowed))
        case .found(let route, let params):
            if let denied = route.access.check(role: request.role) { return .error(denied) }
            var request = request
            request.pathParameters = params
            do {
                return try route.handler(request, context)
            } catch let error as APIError {
                return .error(error)
            } catch {
                return .error(mapError(error, request) ?? .internalError(requestID: request.requestID))
            }
        }
    }
}

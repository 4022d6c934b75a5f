import OpsAuth
import OpsHTTP
import OpsJSON
import OpsLog

/// nginx's `auth_request` answer, sign-in, sign-out and "who am I".
enum AuthRoutes {
    /// Methods that change state; a cookie session must prove it is not a cross-site form.
    static let mutating: Set<String> = ["POST", "PUT", "PATCH", "DELETE"]
    /// A header a cross-site HTML form cannot send; fetch() from our own pages sends it.
    static let csrfHeader = "x-ops-csrf"

    /// Decides the request that nginx is about to pass on, by the route table: 204 with the
    /// caller's role and subject in `X-Ops-Role`/`X-Ops-Subject`, or 401/403. nginx accepts
    /// only 2xx/401/403 from here (anything else becomes a 500 there), so a database outage
    /// while checking a token is answered 401 with `X-Ops-Error-Code: auth_unavailable`.
    static func check(_ request: Request, _ context: AppContext, router: Router<AppContext>) -> Response {
        // Public routes, unknown paths and wrong methods pass without looking at credentials:
        // a stale cookie must not block sign-in or a beacon, and the worker answers 404/405.
        guard case .found(let route, _) = router.resolve(method: request.method, segments: request.segments),
              route.access != .publicRoute else {
            return .noContent()
        }
        let identity: Identity?
        do {
            identity = try context.authenticator.authenticate(request, database: context.database)
        } catch let rejection as CredentialRejection {
            context.logger.info("credential refused", [("request_id", .string(request.requestID)),
                                                       ("reason", .string(rejection.reason))])
            return refusal(401, "unauthenticated", "The credential was refused: \(rejection.reason).")
        } catch {
            context.logger.warn("cannot check credentials", [("request_id", .string(request.requestID)),
                                                            ("error", .string("\(error)"))])
            return refusal(401, "auth_unavailable", "Credentials cannot be checked right now; retry shortly.")
        }
        if let denied = route.access.check(role: identity?.role.rawValue) {
            return refusal(denied.status, denied.code, denied.message)
        }
        if let identity, identity.viaCookie, mutating.contains(request.method),
           request.header(csrfHeader) == nil {
            return refusal(403, "csrf", "Requests that change state from a browser session need the X-Ops-CSRF header.")
        }
        guard let identity else { return .noContent() }
        return .noContent(headers: [HTTPHeader("X-Ops-Role", identity.role.rawValue),
                                    HTTPHeader("X-Ops-Subject", identity.subject)])
    }

    /// nginx shows the code and message (through auth_request_set) in its JSON error body;
    /// they must stay plain ASCII without quotes or backslashes.
    static func refusal(_ status: Int, _ code: String, _ message: String) -> Response {
        let safe = String(message.unicodeScalars.filter { $0.isASCII && $0 != "\"" && $0 != "\\" && $0.value >= 0x20 }
            .map(Character.init))
        return Response(status: status, headers: [HTTPHeader("X-Ops-Error-Code", code),
                                                  HTTPHeader("X-Ops-Error-Message", safe)])
    }

    /// `POST /api/ops/login` `{"token": "…"}` (an admin or viewer API token, or the host app's
    /// JWT): sets the HttpOnly session cookie. Rate-limited by nginx.
    static func login(_ request: Request, _ context: AppContext) throws -> Response {
        let object = try JSONBody.object(request, accepted: ["token"], example: #"{"token":"…"}"#)
        guard let token = object["token"]?.stringValue, !token.isEmpty else {
            throw APIError.badRequest("invalid_field", "'token' must be a non-empty string.")
        }
        let identity: Identity
        do {
            identity = try context.authenticator.bearer(token, database: context.database)
        } catch let rejection as CredentialRejection {
            context.logger.info("sign-in refused", [("request_id", .string(request.requestID)),
                                                   ("reason", .string(rejection.reason))])
            throw APIError.unauthenticated("Sign-in refused: \(rejection.reason).")
        }
        guard identity.role != .ingest else {
            throw APIError.forbidden("Ingest service tokens cannot sign in to the dashboard.")
        }
        let ttl = Int64(context.config.sessionTTLSeconds)
        let expires = Authenticator.now() + ttl
        let cookie = try context.authenticator.sessionCookie(context.database)
            .issue(subject: identity.subject, role: identity.role, expiresAt: expires, tokenID: identity.tokenID)
        context.logger.info("signed in", [("request_id", .string(request.requestID)),
                                         ("subject", .string(identity.subject)), ("role", .string(identity.role.rawValue))])
        return .json(["subject": .string(identity.subject), "role": .string(identity.role.rawValue),
                      "expires_at": .string(Timestamp.iso8601(seconds: Int(expires), milliseconds: 0))],
                     headers: [HTTPHeader("Set-Cookie", "\(SessionCookie.name)=\(cookie); Path=/; Max-Age=\(ttl); HttpOnly; Secure; SameSite=Strict")])
    }

    /// `POST /api/ops/logout`: clears the session cookie.
    static func logout(_ request: Request, _ context: AppContext) throws -> Response {
        .noContent(headers: [HTTPHeader("Set-Cookie", "\(SessionCookie.name)=; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Strict")])
    }

    /// `GET /api/ops/whoami`: the caller's subject and role as nginx established them.
    static func whoami(_ request: Request, _ context: AppContext) throws -> Response {
        .json(["subject": .from(request.subject), "role": .from(request.role)])
    }
}

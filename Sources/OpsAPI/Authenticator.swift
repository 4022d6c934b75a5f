import OpsAuth
import OpsConfig
import OpsCrypto
import OpsHTTP
import OpsPostgres
#if canImport(Glibc)
import Glibc
#endif

/// Finds and checks the caller's credential, in this order: `Authorization: Bearer` (an API
/// token or the host app's JWT), the dashboard session cookie, the host app's JWT cookie.
/// A credential that is present but wrong is refused (never treated as anonymous).
/// One per thread: it caches the session key after the first database read.
final class Authenticator {
    let config: Config
    let jwt: JWTVerifier?
    private var sessions: SessionCookie?

    init(config: Config) {
        self.config = config
        self.jwt = config.jwtSecret.isEmpty ? nil
            : JWTVerifier(secret: Array(config.jwtSecret.utf8), adminClaim: config.jwtAdminClaim)
    }

    static func now() -> Int64 { Int64(time(nil)) }

    /// The session cookie signer: OPS_SESSION_SECRET, else the key shared through the database.
    func sessionCookie(_ database: DatabaseSession) throws -> SessionCookie {
        if let sessions { return sessions }
        let secret = config.sessionSecret.isEmpty
            ? try database.run { try SecretStore(connection: $0).loadOrCreate("session_hmac") }
            : Crypto.sha256(Array(config.sessionSecret.utf8))  // any length → a 256-bit key
        let made = SessionCookie(secret: secret)
        sessions = made
        return made
    }

    /// nil when the request carries no credential at all.
    func authenticate(_ request: Request, database: DatabaseSession) throws -> Identity? {
        if let authorization = request.header("authorization") {
            let parts = authorization.split(separator: " ", maxSplits: 1)
            guard parts.count == 2, parts[0].lowercased() == "bearer" else { throw CredentialRejection.malformed }
            return try bearer(String(parts[1]).trimmingSpaces(), database: database)
        }
        let cookies = parseCookies(request.header("cookie"))
        if let session = cookies[SessionCookie.name] {
            let identity = try sessionCookie(database).verify(session, now: Self.now())
            if let tid = identity.tokenID,
               try !database.run({ try TokenStore(connection: $0).isLive(id: tid) }) {
                throw CredentialRejection.unknownOrRevoked
            }
            return identity
        }
        if !config.jwtCookie.isEmpty, let token = cookies[config.jwtCookie] {
            guard let jwt else { throw CredentialRejection.notConfigured }
            let id = try jwt.verify(token, now: Self.now())
            return Identity(subject: id.subject, role: id.role, source: .jwt, viaCookie: true)
        }
        return nil
    }

    /// An API token or a JWT, as sent in `Authorization: Bearer` (and in the sign-in body).
    func bearer(_ token: String, database: DatabaseSession) throws -> Identity {
        if token.hasPrefix(APITokenFormat.prefix) {
            guard APITokenFormat.looksValid(token) else { throw CredentialRejection.malformed }
            guard let found = try database.run({ try TokenStore(connection: $0).authenticate(token) }) else {
                throw CredentialRejection.unknownOrRevoked
            }
            return Identity(subject: "token:" + found.name, role: found.role, source: .apiToken, tokenID: found.id)
        }
        if JWTVerifier.looksLikeJWT(token) {
            guard let jwt else { throw CredentialRejection.notConfigured }
            return try jwt.verify(token, now: Self.now())
        }
        throw CredentialRejection.malformed
    }
}

extension String {
    func trimmingSpaces() -> String {
        var s = Substring(self)
        while s.first == " " { s = s.dropFirst() }
        while s.last == " " { s = s.dropLast() }
        return String(s)
    }
}

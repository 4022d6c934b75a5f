/// Who is calling, once a credential checked out.
public struct Identity: Equatable, Sendable {
    public enum Source: String, Sendable {
        case apiToken = "token"
        case session
        case jwt
    }

    public let subject: String
    public let role: Role
    public let source: Source
    /// The credential came from a cookie, which a browser attaches to cross-site requests
    /// too: state-changing requests then need the CSRF header.
    public let viaCookie: Bool
    /// The API token behind the identity (directly, or the one a session was signed in
    /// with), so that revoking the token also ends its sessions.
    public let tokenID: Int64?

    public init(subject: String, role: Role, source: Source, viaCookie: Bool = false, tokenID: Int64? = nil) {
        self.subject = subject
        self.role = role
        self.source = source
        self.viaCookie = viaCookie
        self.tokenID = tokenID
    }
}

/// Why a credential was refused. The reason goes to the log (never the credential itself);
/// clients get a plain 401.
public enum CredentialRejection: Error, Equatable, Sendable {
    case malformed
    case badSignature
    case expired
    case notYetValid
    case unknownOrRevoked
    case algorithmNotAllowed(String)
    case notConfigured

    public var reason: String {
        switch self {
        case .malformed: return "malformed credential"
        case .badSignature: return "bad signature"
        case .expired: return "expired"
        case .notYetValid: return "not valid yet (nbf)"
        case .unknownOrRevoked: return "unknown, revoked or expired token"
        case .algorithmNotAllowed(let a): return "JWT algorithm \(a) is not allowed (only HS256)"
        case .notConfigured: return "JWT sign-in is not configured"
        }
    }
}

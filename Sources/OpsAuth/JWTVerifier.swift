import OpsCrypto
import OpsJSON

/// Accepts the host app's HS256 JWTs (RFC 7519): the header must say `alg: HS256` exactly
/// (no `none`, no algorithm chosen by the token), the signature must match in constant time,
/// `exp` must be in the future and `nbf` (if present) in the past, with a small leeway for
/// clock skew. The admin claim decides the role: admins become `admin`, everyone else who
/// holds a valid token is a `viewer`.
public struct JWTVerifier {
    let secret: [UInt8]
    /// Claim that marks an admin: true, "admin", or an array containing "admin".
    let adminClaim: String
    let leewaySeconds: Int64

    public init(secret: [UInt8], adminClaim: String, leewaySeconds: Int64 = 30) {
        self.secret = secret
        self.adminClaim = adminClaim
        self.leewaySeconds = leewaySeconds
    }

    public static func looksLikeJWT(_ s: String) -> Bool {
        s.utf8.filter { $0 == UInt8(ascii: ".") }.count == 2 && !s.hasPrefix("v1.")
    }

    public func verify(_ token: String, now: Int64) throws(CredentialRejection) -> Identity {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let headerBytes = Base64URL.decode(parts[0]),
              let header = try? JSON.parse(headerBytes), header.objectValue != nil else { throw .malformed }
        let alg = header["alg"]?.stringValue ?? "(missing)"
        guard alg == "HS256" else { throw .algorithmNotAllowed(alg) }
        // RFC 7515 §4.1.11: a critical extension we do not understand must be refused.
        guard header["crit"] == nil else { throw .malformed }
        guard let signature = Base64URL.decode(parts[2]) else { throw .malformed }
        let expected = Crypto.hmacSHA256(key: secret, message: Array("\(parts[0]).\(parts[1])".utf8))
        guard Crypto.constantTimeEquals(signature, expected) else { throw .badSignature }
        guard let payloadBytes = Base64URL.decode(parts[1]), let claims = try? JSON.parse(payloadBytes),
              claims.objectValue != nil else { throw .malformed }
        // NumericDate may have a fraction (RFC 7519 §2); no exp = never expires: refused.
        guard let expValue = claims["exp"]?.doubleValue, expValue.isFinite else { throw .malformed }
        let exp = Int64(expValue.rounded(.down))
        guard now < exp + leewaySeconds else { throw .expired }
        if let nbfClaim = claims["nbf"], nbfClaim != .null {
            guard let nbf = nbfClaim.doubleValue, nbf.isFinite else { throw .malformed }
            if Double(now + leewaySeconds) < nbf { throw .notYetValid }
        }
        let subject = claims["sub"]?.stringValue ?? claims["sub"]?.intValue.map(String.init) ?? claims["email"]?.stringValue
        // Subjects travel back to nginx in a header: keep them short.
        guard let subject, !subject.isEmpty, subject.utf8.count <= 256 else { throw .malformed }
        return Identity(subject: "jwt:" + subject, role: isAdmin(claims[adminClaim]) ? .admin : .viewer, source: .jwt)
    }

    func isAdmin(_ claim: JSON?) -> Bool {
        switch claim {
        case .bool(true): return true
        case .string(let s): return s == "admin"
        case .array(let items): return items.contains(.string("admin"))
        default: return false
        }
    }

    /// Signs claims; for tests and for `opsplane` tooling that needs a sample token.
    public func sign(_ claims: JSON) -> String {
        let header: JSON = ["alg": "HS256", "typ": "JWT"]
        let signed = Base64URL.encode(header.serializedBytes()) + "." + Base64URL.encode(claims.serializedBytes())
        return signed + "." + Base64URL.encode(Crypto.hmacSHA256(key: secret, message: Array(signed.utf8)))
    }
}

import OpsCrypto
import OpsJSON

/// The dashboard's session cookie: `v1.<payload>.<mac>`, where payload is base64url JSON
/// `{"sub","role","exp"}` and mac is HMAC-SHA256 over `v1.<payload>` under the session secret.
/// Stateless, so every worker on every host can check it with the shared secret.
public struct SessionCookie {
    public static let name = "ops_session"
    let secret: [UInt8]

    public init(secret: [UInt8]) {
        precondition(secret.count >= 32, "session secret must have at least 256 bits")
        self.secret = secret
    }

    public func issue(subject: String, role: Role, expiresAt: Int64, tokenID: Int64? = nil) -> String {
        var payload: JSON = ["sub": .string(subject), "role": .string(role.rawValue), "exp": .int(expiresAt)]
        if let tokenID, case .object(var o) = payload {
            o["tid"] = .int(tokenID)
            payload = .object(o)
        }
        let signed = "v1." + Base64URL.encode(payload.serializedBytes())
        return signed + "." + Base64URL.encode(Crypto.hmacSHA256(key: secret, message: Array(signed.utf8)))
    }

    /// Checks the MAC in constant time before looking at the payload, then the expiry.
    public func verify(_ value: String, now: Int64) throws(CredentialRejection) -> Identity {
        let parts = value.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0] == "v1", let mac = Base64URL.decode(parts[2]) else { throw .malformed }
        let signed = Array("v1.\(parts[1])".utf8)
        guard Crypto.constantTimeEquals(mac, Crypto.hmacSHA256(key: secret, message: signed)) else {
            throw .badSignature
        }
        guard let bytes = Base64URL.decode(parts[1]), let payload = try? JSON.parse(bytes),
              let sub = payload["sub"]?.stringValue, let roleName = payload["role"]?.stringValue,
              let role = Role(rawValue: roleName), let exp = payload["exp"]?.intValue else { throw .malformed }
        guard now < exp else { throw .expired }
        return Identity(subject: sub, role: role, source: .session, viaCookie: true, tokenID: payload["tid"]?.intValue)
    }
}

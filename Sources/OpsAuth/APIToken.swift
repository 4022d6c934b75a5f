import OpsCrypto

/// Roles a token can carry (see README "Access").
public enum Role: String, CaseIterable, Sendable {
    case admin, viewer, ingest
}

/// API token format: `ops_` + 64 hex digits (256 random bits). Only the SHA-256 of the whole
/// token is stored, so a database leak reveals no usable token.
public enum APITokenFormat {
    public static let prefix = "ops_"

    public static func generate() -> String {
        prefix + Crypto.hex(Crypto.randomBytes(32))
    }

    public static func hash(_ token: String) -> [UInt8] {
        Crypto.sha256(Array(token.utf8))
    }

    /// Cheap shape check before any database lookup.
    public static func looksValid(_ token: String) -> Bool {
        let u = token.utf8
        return u.count == prefix.utf8.count + 64 && token.hasPrefix(prefix)
            && u.dropFirst(prefix.utf8.count).allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }
    }
}

/// A stored token as `token list` shows it: never the token itself.
public struct APITokenRecord: Equatable, Sendable {
    public let id: Int64
    public let name: String
    public let role: String
    public let createdAt: String
    public let lastUsedAt: String?
    public let expiresAt: String?
    public let revokedAt: String?
}

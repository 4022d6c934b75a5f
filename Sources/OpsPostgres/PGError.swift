/// A Postgres failure with its SQLSTATE, so callers can switch on codes (23505 unique
/// violation, 57014 query canceled, 08xxx connection exceptions …).
public struct PGError: Error, CustomStringConvertible, Sendable {
    public enum Kind: Sendable, Equatable {
        /// Could not connect, or the connection broke: the database is unavailable.
        case connection
        /// The server rejected or failed the statement.
        case query
    }

    public let kind: Kind
    public let sqlState: String?
    public let message: String

    public init(kind: Kind, sqlState: String?, message: String) {
        self.kind = kind
        self.sqlState = sqlState
        self.message = message
    }

    public var description: String {
        sqlState.map { "\(message) (SQLSTATE \($0))" } ?? message
    }

    /// True when retrying on a new connection may succeed: connection exceptions (class 08),
    /// server shutdown (57P01–57P03) and broken connections.
    public var isUnavailable: Bool {
        if kind == .connection { return true }
        guard let s = sqlState else { return false }
        return s.hasPrefix("08") || s == "57P01" || s == "57P02" || s == "57P03"
    }

    public var isUniqueViolation: Bool { sqlState == "23505" }
}

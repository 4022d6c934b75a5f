#if canImport(Glibc)
import Glibc
#endif

/// A thread's lazily opened, self-healing connection. When Postgres goes away, calls fail
/// fast with a `.connection` error; the next call after a short pause connects anew, so the
/// worker recovers by itself when the database is back.
public final class DatabaseSession {
    public let url: String
    let applicationName: String
    let connectTimeoutSeconds: Int
    let statementTimeoutMillis: Int
    /// After a failed connect, further attempts wait this long, so an outage costs each
    /// request microseconds rather than a connect attempt.
    let retryPauseSeconds: Double

    private var current: PGConnection?
    private var lastFailure: (at: Double, error: PGError)?

    public init(url: String, applicationName: String, connectTimeoutSeconds: Int = 3,
                statementTimeoutMillis: Int = 0, retryPauseSeconds: Double = 0.5) {
        self.url = url
        self.applicationName = applicationName
        self.connectTimeoutSeconds = connectTimeoutSeconds
        self.statementTimeoutMillis = statementTimeoutMillis
        self.retryPauseSeconds = retryPauseSeconds
    }

    /// A healthy connection, connecting if needed. Throws `.connection` errors.
    public func connection() throws -> PGConnection {
        if let c = current, c.isHealthy { return c }
        current = nil
        let now = Self.now()
        if let failure = lastFailure, now - failure.at < retryPauseSeconds { throw failure.error }
        do {
            let c = try PGConnection(url: url, applicationName: applicationName,
                                     connectTimeoutSeconds: connectTimeoutSeconds,
                                     statementTimeoutMillis: statementTimeoutMillis)
            current = c
            lastFailure = nil
            return c
        } catch let error as PGError {
            lastFailure = (now, error)
            throw error
        }
    }

    /// Runs `body` on the connection. A statement that fails because a connection that
    /// looked healthy had in fact been cut (Postgres restarted) is run once more on a new
    /// connection; `body` must therefore be safe to repeat (a read, or a whole transaction).
    public func run<T>(_ body: (PGConnection) throws -> T) throws -> T {
        let wasOpen = current != nil
        let c = try connection()
        do {
            return try body(c)
        } catch let error as PGError where error.isUnavailable && wasOpen {
            current = nil
            return try body(try connection())
        }
    }

    /// Drops the connection (for example before the thread exits).
    public func close() { current = nil }

    static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }
}

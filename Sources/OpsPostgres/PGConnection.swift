import CPostgres
#if canImport(Glibc)
import Glibc
#endif

/// One libpq connection. Not thread-safe: use one per thread (FIELD-NOTES). Every statement
/// goes through `query(_:_:)` with `$n` parameters sent separately from the SQL text, so no
/// value is ever spliced into SQL.
public final class PGConnection {
    let handle: OpaquePointer

    /// Connects and prepares the session: UTC time zone (date_trunc and "today" depend on it)
    /// and an optional statement timeout. Throws `.connection` errors.
    public init(url: String, applicationName: String = "opsplane", connectTimeoutSeconds: Int = 3,
                statementTimeoutMillis: Int = 0) throws {
        // expand_dbname=1 lets `url` be a URL or key=value string; the keys after it
        // (application name, connect timeout) override the URL's.
        let keys = ["dbname", "application_name", "connect_timeout"]
        let values = [url, applicationName, String(connectTimeoutSeconds)]
        let conn = withCStringArray(keys) { k in
            withCStringArray(values) { v in PQconnectdbParams(k, v, 1) }
        }
        guard let conn else {
            throw PGError(kind: .connection, sqlState: nil, message: "out of memory creating a connection")
        }
        guard PQstatus(conn) == CONNECTION_OK else {
            let message = Self.trimmed(PQerrorMessage(conn))
            PQfinish(conn)
            throw PGError(kind: .connection, sqlState: nil, message: message)
        }
        handle = conn
        _ = try query("SET TIME ZONE 'UTC'")
        // NOTICEs ("already exists, skipping") would go to stderr through libpq's default
        // notice processor; warnings and errors still arrive.
        _ = try query("SET client_min_messages = warning")
        if statementTimeoutMillis > 0 {
            _ = try query("SELECT set_config('statement_timeout', $1, false)", [String(statementTimeoutMillis)])
        }
    }

    deinit { PQfinish(handle) }

    /// False once the connection broke; the owner should drop it and connect anew.
    public var isHealthy: Bool { PQstatus(handle) == CONNECTION_OK }

    /// Runs one statement with text parameters (`nil` is SQL NULL) and returns its rows.
    /// Throws `PGError`: `.connection` when the link is gone, `.query` with the SQLSTATE
    /// otherwise. Never leaves a `PGresult` unfreed.
    @discardableResult
    public func query(_ sql: String, _ parameters: [String?] = []) throws -> PGResult {
        let raw: OpaquePointer? = withOptionalCStringArray(parameters) { params in
            PQexecParams(handle, sql, Int32(parameters.count), nil, params, nil, nil, 0)
        }
        return try checked(raw)
    }

    /// Names prepared on this connection (`preparedQuery`).
    private var prepared: Set<String> = []

    /// Like `query`, but the statement is parsed and planned once per connection (prepared
    /// under `name`) and afterwards only executed: for a statement run often whose planning
    /// costs more than its execution. `name` must stand for the same `sql` for the life of
    /// the program; a new connection prepares it anew.
    @discardableResult
    public func preparedQuery(_ name: String, _ sql: String, _ parameters: [String?] = []) throws -> PGResult {
        if !prepared.contains(name) {
            _ = try checked(PQprepare(handle, name, sql, Int32(parameters.count), nil))
            prepared.insert(name)
        }
        let raw: OpaquePointer? = withOptionalCStringArray(parameters) { params in
            PQexecPrepared(handle, name, Int32(parameters.count), params, nil, nil, 0)
        }
        return try checked(raw)
    }

    /// Runs a script of several statements without parameters (migrations only: their SQL
    /// is part of the program, never input).
    public func executeScript(_ sql: String) throws {
        _ = try checked(PQexec(handle, sql))
    }

    /// Runs `body` inside BEGIN/COMMIT; rolls back when it throws.
    public func transaction<T>(_ body: () throws -> T) throws -> T {
        try query("BEGIN")
        do {
            let value = try body()
            try query("COMMIT")
            return value
        } catch {
            if isHealthy { _ = try? query("ROLLBACK") }
            throw error
        }
    }

    /// Reads notifications that have arrived (after `LISTEN`); frees each with PQfreemem.
    public func drainNotifications() -> [(channel: String, payload: String)] {
        PQconsumeInput(handle)
        var out: [(String, String)] = []
        while let n = PQnotifies(handle) {
            out.append((String(cString: n.pointee.relname), String(cString: n.pointee.extra)))
            PQfreemem(n)
        }
        return out
    }

    /// The socket, for poll(2) while waiting for notifications.
    public var socket: Int32 { PQsocket(handle) }

    private func checked(_ raw: OpaquePointer?) throws -> PGResult {
        guard let raw else {
            throw PGError(kind: .connection, sqlState: nil, message: Self.trimmed(PQerrorMessage(handle)))
        }
        let result = PGResult(raw)
        switch PQresultStatus(raw) {
        case PGRES_COMMAND_OK, PGRES_TUPLES_OK, PGRES_EMPTY_QUERY:
            return result
        default:
            let state = PQresultErrorField(raw, Int32(UInt8(ascii: "C"))).map { String(cString: $0) }
            var message = Self.trimmed(PQresultErrorMessage(raw))
            if message.isEmpty { message = Self.trimmed(PQerrorMessage(handle)) }
            let kind: PGError.Kind = PQstatus(handle) == CONNECTION_OK ? .query : .connection
            throw PGError(kind: kind, sqlState: state, message: message)
        }
    }

    static func trimmed(_ cString: UnsafePointer<CChar>?) -> String {
        guard let cString else { return "" }
        var s = String(cString: cString)
        while let last = s.last, last.isWhitespace { s.removeLast() }
        return s
    }
}

/// Copies strings into C strings that live only for the duration of `body`
/// (the pattern of Swift-Kuery-PostgreSQL's parameter set); frees them afterwards.
func withCStringArray<R>(_ strings: [String], _ body: (UnsafePointer<UnsafePointer<CChar>?>) -> R) -> R {
    withOptionalCStringArray(strings.map { Optional($0) }, body)
}

func withOptionalCStringArray<R>(_ strings: [String?], _ body: (UnsafePointer<UnsafePointer<CChar>?>) -> R) -> R {
    let copies: [UnsafeMutablePointer<CChar>?] = strings.map { $0.map { strdup($0)! } }
    defer { for c in copies { free(c) } }
    let pointers: [UnsafePointer<CChar>?] = copies.map { $0.map { UnsafePointer($0) } } + [nil]
    return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
}

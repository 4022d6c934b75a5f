import CPostgres

/// The rows of a finished statement. Owns its `PGresult` and frees it on deinit; values are
/// copied into Swift strings when read, so nothing outlives the result.
public final class PGResult {
    let handle: OpaquePointer

    init(_ handle: OpaquePointer) {
        self.handle = handle
    }

    deinit { PQclear(handle) }

    public var rowCount: Int { Int(PQntuples(handle)) }
    public var columnCount: Int { Int(PQnfields(handle)) }
    /// Rows touched by INSERT/UPDATE/DELETE.
    public var affectedRows: Int { Int(String(cString: PQcmdTuples(handle))) ?? 0 }

    public func columnName(_ column: Int) -> String { String(cString: PQfname(handle, Int32(column))) }

    public func columnIndex(_ name: String) -> Int? {
        let i = Int(PQfnumber(handle, name))
        return i >= 0 ? i : nil
    }

    public func isNull(_ row: Int, _ column: Int) -> Bool { PQgetisnull(handle, Int32(row), Int32(column)) == 1 }

    /// Text value of a cell, nil for SQL NULL.
    public func string(_ row: Int, _ column: Int) -> String? {
        if isNull(row, column) { return nil }
        let length = Int(PQgetlength(handle, Int32(row), Int32(column)))
        let bytes = UnsafeRawBufferPointer(start: PQgetvalue(handle, Int32(row), Int32(column)), count: length)
        return String(decoding: bytes, as: UTF8.self)
    }

    public func string(_ row: Int, _ name: String) -> String? {
        columnIndex(name).flatMap { string(row, $0) }
    }

    public func int(_ row: Int, _ column: Int) -> Int64? { string(row, column).flatMap { Int64($0) } }
    public func int(_ row: Int, _ name: String) -> Int64? { string(row, name).flatMap { Int64($0) } }
    public func double(_ row: Int, _ column: Int) -> Double? { string(row, column).flatMap { Double($0) } }
    public func double(_ row: Int, _ name: String) -> Double? { string(row, name).flatMap { Double($0) } }
    /// Postgres prints booleans as `t`/`f`.
    public func bool(_ row: Int, _ column: Int) -> Bool? { string(row, column).map { $0 == "t" } }
    public func bool(_ row: Int, _ name: String) -> Bool? { string(row, name).map { $0 == "t" } }
}

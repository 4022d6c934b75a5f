import OpsActivity
import OpsPostgres

/// Timestamps cross the libpq boundary as ISO-8601 text going in, and as integer
/// microseconds since the epoch coming out (exact, no parsing of Postgres' output format).
extension UTCTime {
    public var sql: String { iso8601Micros }
}

/// `(extract(epoch FROM col) * 1000000)::bigint` — the form `UTCTime` reads back.
public func micros(_ column: String) -> String { "(extract(epoch FROM \(column)) * 1000000)::bigint" }

extension PGResult {
    public func time(_ row: Int, _ column: Int) -> UTCTime? { int(row, column).map(UTCTime.init(micros:)) }
}

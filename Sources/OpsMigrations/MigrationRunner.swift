import OpsPostgres

/// Applies migrations in order, each inside its own transaction together with its row in
/// `ops.schema_migrations`, under an advisory lock so two `migrate` runs never interleave.
public struct MigrationRunner {
    /// Arbitrary constant naming Opsplane's migration lock among advisory locks.
    static let lockKey = "7286412098151"
    let connection: PGConnection

    public init(connection: PGConnection) {
        self.connection = connection
    }

    func ensureTable() throws {
        try connection.query("CREATE SCHEMA IF NOT EXISTS ops")
        try connection.query("""
            CREATE TABLE IF NOT EXISTS ops.schema_migrations (
                version    integer PRIMARY KEY,
                name       text NOT NULL,
                checksum   text NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now()
            )
            """)
    }

    /// Applied rows: version → (checksum, applied_at).
    func applied() throws -> [Int: (checksum: String, appliedAt: String)] {
        let r = try connection.query(
            "SELECT version, checksum, to_char(applied_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') FROM ops.schema_migrations")
        var out: [Int: (String, String)] = [:]
        for i in 0..<r.rowCount {
            out[Int(r.int(i, 0)!)] = (r.string(i, 1)!, r.string(i, 2)!)
        }
        return out
    }

    /// Lists every known migration with its state. A migration recorded in the database but
    /// missing from the files is listed as applied with its recorded name.
    public func status(_ migrations: [Migration]) throws -> [MigrationStatus] {
        try ensureTable()
        let done = try applied()
        var out = migrations.map { m -> MigrationStatus in
            guard let row = done[m.version] else {
                return MigrationStatus(version: m.version, name: m.name, state: .pending, appliedAt: nil)
            }
            return MigrationStatus(version: m.version, name: m.name,
                                   state: row.checksum == m.checksum ? .applied : .changed, appliedAt: row.appliedAt)
        }
        let known = Set(migrations.map(\.version))
        let r = try connection.query("SELECT version, name, to_char(applied_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') FROM ops.schema_migrations ORDER BY version")
        for i in 0..<r.rowCount where !known.contains(Int(r.int(i, 0)!)) {
            out.append(MigrationStatus(version: Int(r.int(i, 0)!), name: r.string(i, 1)!, state: .applied,
                                       appliedAt: r.string(i, 2)))
        }
        return out.sorted { $0.version < $1.version }
    }

    /// Applies every pending migration; returns the ones applied. Stops at the first failure
    /// (that migration is rolled back, earlier ones stay). Refuses to run when an applied
    /// migration's file has changed.
    @discardableResult
    public func migrate(_ migrations: [Migration], progress: (Migration) -> Void = { _ in }) throws -> [Migration] {
        try connection.query("SELECT pg_advisory_lock($1::bigint)", [Self.lockKey])
        defer { _ = try? connection.query("SELECT pg_advisory_unlock($1::bigint)", [Self.lockKey]) }
        try ensureTable()
        let done = try applied()
        for m in migrations {
            if let row = done[m.version], row.checksum != m.checksum {
                throw MigrationError.checksumMismatch(version: m.version, name: m.name)
            }
        }
        var appliedNow: [Migration] = []
        for m in migrations where done[m.version] == nil {
            progress(m)
            do {
                try connection.transaction {
                    try connection.executeScript(m.sql)
                    try connection.query(
                        "INSERT INTO ops.schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                        [String(m.version), m.name, m.checksum])
                }
            } catch let error as PGError {
                throw MigrationError.failed(version: m.version, name: m.name, message: error.description)
            }
            appliedNow.append(m)
        }
        return appliedNow
    }
}

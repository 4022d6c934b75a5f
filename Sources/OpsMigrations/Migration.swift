/// One numbered migration file: `0007_alert_history.sql` → version 7, name "alert_history".
public struct Migration: Equatable, Sendable {
    public let version: Int
    public let name: String
    public let sql: String
    /// SHA-256 of the SQL, recorded when applied, so an edited applied file is noticed.
    public let checksum: String

    public init(version: Int, name: String, sql: String, checksum: String) {
        self.version = version
        self.name = name
        self.sql = sql
        self.checksum = checksum
    }

    /// Splits a file name into version and name; nil for anything that is not `NNNN_name.sql`.
    public static func parseFileName(_ fileName: String) -> (version: Int, name: String)? {
        guard fileName.hasSuffix(".sql") else { return nil }
        let stem = fileName.dropLast(4)
        guard let underscore = stem.firstIndex(of: "_") else { return nil }
        let digits = stem[..<underscore]
        let name = stem[stem.index(after: underscore)...]
        guard !digits.isEmpty, digits.allSatisfy(\.isASCII), digits.allSatisfy(\.isNumber),
              let version = Int(digits), version > 0, !name.isEmpty else { return nil }
        return (version, String(name))
    }

    /// Orders migrations by version and refuses two files with one version number.
    public static func ordered(_ migrations: [Migration]) throws -> [Migration] {
        let sorted = migrations.sorted { $0.version < $1.version }
        for (a, b) in zip(sorted, sorted.dropFirst()) where a.version == b.version {
            throw MigrationError.duplicateVersion(a.version, a.name, b.name)
        }
        return sorted
    }
}

public enum MigrationError: Error, CustomStringConvertible, Equatable {
    case duplicateVersion(Int, String, String)
    case directoryUnreadable(String)
    case checksumMismatch(version: Int, name: String)
    case failed(version: Int, name: String, message: String)

    public var description: String {
        switch self {
        case .duplicateVersion(let v, let a, let b):
            return "two migrations have version \(v): \(a) and \(b)"
        case .directoryUnreadable(let path):
            return "cannot read the migrations directory \(path)"
        case .checksumMismatch(let v, let name):
            return "migration \(v) (\(name)) was changed after it was applied; add a new migration instead"
        case .failed(let v, let name, let message):
            return "migration \(v) (\(name)) failed and was rolled back: \(message)"
        }
    }
}

/// What `migrate --status` shows for one migration.
public struct MigrationStatus: Equatable, Sendable {
    public enum State: String, Sendable { case applied, pending, changed }
    public let version: Int
    public let name: String
    public let state: State
    public let appliedAt: String?
}

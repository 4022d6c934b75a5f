import Foundation
import Testing
import OpsCrypto
@testable import OpsMigrations
@testable import OpsPostgres

private var databaseURL: String? { ProcessInfo.processInfo.environment["OPS_DATABASE_URL"] }

/// A fresh database per test, dropped afterwards.
private final class ScratchDatabase {
    let name = "opsplane_mig_" + Crypto.hex(Crypto.randomBytes(6))
    let admin: PGConnection
    let connection: PGConnection

    init() throws {
        admin = try PGConnection(url: databaseURL!)
        try admin.query("CREATE DATABASE \(name)")
        let base = databaseURL!
        let head = base.split(separator: "?", maxSplits: 1).first.map(String.init) ?? base
        let tail = base.contains("?") ? "?" + base.split(separator: "?", maxSplits: 1)[1] : ""
        connection = try PGConnection(url: String(head[..<head.lastIndex(of: "/")!]) + "/" + name + tail)
    }

    deinit { _ = try? admin.query("DROP DATABASE IF EXISTS \(name) WITH (FORCE)") }
}

private func migration(_ v: Int, _ sql: String) -> Migration {
    Migration(version: v, name: "m\(v)", sql: sql, checksum: Crypto.sha256Hex(sql))
}

@Suite(.enabled(if: databaseURL != nil, "needs OPS_DATABASE_URL (make test provides it)"))
struct MigrationRunnerTests {
    @Test func appliesBundledMigrationsOnceAndReportsStatus() throws {
        let db = try ScratchDatabase()
        let runner = MigrationRunner(connection: db.connection)
        let all = try MigrationSource.load(directory: nil)
        #expect(try runner.status(all).allSatisfy { $0.state == .pending })
        #expect(try runner.migrate(all).count == all.count)
        #expect(try runner.migrate(all).isEmpty)
        #expect(try runner.status(all).allSatisfy { $0.state == .applied && $0.appliedAt != nil })
        #expect(try db.connection.query("SELECT count(*) FROM ops.api_tokens").int(0, 0) == 0)
    }

    @Test func failingMigrationRollsBackAndStopsLaterOnes() throws {
        let db = try ScratchDatabase()
        let runner = MigrationRunner(connection: db.connection)
        let ms = [migration(1, "CREATE TABLE ops.a (id int);"),
                  migration(2, "CREATE TABLE ops.b (id int); SELECT no_such_function();"),
                  migration(3, "CREATE TABLE ops.c (id int);")]
        #expect(throws: MigrationError.self) { try runner.migrate(ms) }
        let states = try runner.status(ms).map(\.state)
        #expect(states == [.applied, .pending, .pending])
        // Migration 2's table was rolled back with it.
        #expect(try db.connection.query("SELECT to_regclass('ops.b') IS NULL").bool(0, 0) == true)
    }

    @Test func editedAppliedMigrationIsRefused() throws {
        let db = try ScratchDatabase()
        let runner = MigrationRunner(connection: db.connection)
        try runner.migrate([migration(1, "CREATE TABLE ops.a (id int);")])
        let edited = [migration(1, "CREATE TABLE ops.a (id bigint);")]
        #expect(try runner.status(edited).first?.state == .changed)
        #expect(throws: MigrationError.checksumMismatch(version: 1, name: "m1")) { try runner.migrate(edited) }
    }
}

import Testing
@testable import OpsPostgres

@Suite(.enabled(if: TestDatabase.available, "needs OPS_DATABASE_URL (make test provides it)"))
struct PGConnectionTests {
    @Test func parametersAreNeverSplicedIntoSQL() throws {
        let db = try TestDatabase()
        let c = try PGConnection(url: db.url)
        try c.query("CREATE TABLE t (v text)")
        let hostile = "x'); DROP TABLE t; --"
        try c.query("INSERT INTO t (v) VALUES ($1)", [hostile])
        let r = try c.query("SELECT v FROM t WHERE v = $1", [hostile])
        #expect(r.rowCount == 1)
        #expect(r.string(0, 0) == hostile)
    }

    @Test func nullParametersAndNullCells() throws {
        let db = try TestDatabase()
        let c = try PGConnection(url: db.url)
        let r = try c.query("SELECT $1::text IS NULL, $1::text", [nil])
        #expect(r.bool(0, 0) == true)
        #expect(r.isNull(0, 1))
        #expect(r.string(0, 1) == nil)
    }

    @Test func preparedStatementsRunAgainWithNewParameters() throws {
        let db = try TestDatabase()
        let c = try PGConnection(url: db.url)
        let hostile = "x'); DROP TABLE t; --"
        for (i, v) in ["a", hostile, "c"].enumerated() {
            let r = try c.preparedQuery("echo", "SELECT $1::text, $2::int + 1", [v, String(i)])
            #expect(r.string(0, 0) == v)
            #expect(r.int(0, 1) == Int64(i + 1))
        }
        // A statement refused at execution leaves the prepared one usable.
        #expect(throws: PGError.self) { try c.preparedQuery("echo", "SELECT $1::text, $2::int + 1", ["a", "not a number"]) }
        #expect(try c.preparedQuery("echo", "SELECT $1::text, $2::int + 1", ["b", "1"]).string(0, 0) == "b")
    }

    @Test func sessionIsUTC() throws {
        let db = try TestDatabase()
        let c = try PGConnection(url: db.url)
        #expect(try c.query("SHOW TIME ZONE").string(0, 0) == "UTC")
    }

    @Test func uniqueViolationCarriesSQLState() throws {
        let db = try TestDatabase()
        let c = try PGConnection(url: db.url)
        try c.query("CREATE TABLE u (id int PRIMARY KEY)")
        try c.query("INSERT INTO u VALUES (1)")
        do {
            try c.query("INSERT INTO u VALUES (1)")
            Issue.record("duplicate insert succeeded")
        } catch let e as PGError {
            #expect(e.isUniqueViolation)
            #expect(e.kind == .query)
            #expect(!e.isUnavailable)
        }
    }

    @Test func transactionRollsBackOnError() throws {
        let db = try TestDatabase()
        let c = try PGConnection(url: db.url)
        try c.query("CREATE TABLE r (id int)")
        struct Stop: Error {}
        #expect(throws: Stop.self) {
            try c.transaction {
                try c.query("INSERT INTO r VALUES (1)")
                throw Stop()
            }
        }
        #expect(try c.query("SELECT count(*) FROM r").int(0, 0) == 0)
    }

    @Test func unreachableServerIsAConnectionError() {
        do {
            _ = try PGConnection(url: "postgresql://nobody@127.0.0.1:1/none", connectTimeoutSeconds: 1)
            Issue.record("connected to port 1")
        } catch let e as PGError {
            #expect(e.kind == .connection)
            #expect(e.isUnavailable)
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    @Test func sessionReconnectsAfterItsConnectionIsKilled() throws {
        let db = try TestDatabase()
        let session = DatabaseSession(url: db.url, applicationName: "reconnect-test", retryPauseSeconds: 0)
        let pid = try session.run { try $0.query("SELECT pg_backend_pid()").string(0, 0)! }
        let killer = try PGConnection(url: db.url)
        try killer.query("SELECT pg_terminate_backend($1::int)", [pid])
        // The first statement on the dead connection fails; run() retries once on a new one.
        let again = try session.run { try $0.query("SELECT pg_backend_pid()").string(0, 0)! }
        #expect(again != pid)
    }

    @Test func urlDatabaseReplacement() {
        #expect(TestDatabase.replacingDatabase(in: "postgresql://u:p@h:1/db?sslmode=disable", with: "x")
                == "postgresql://u:p@h:1/x?sslmode=disable")
        #expect(TestDatabase.replacingDatabase(in: "postgresql://u@h:1/db", with: "x") == "postgresql://u@h:1/x")
    }
}

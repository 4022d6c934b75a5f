import Testing
@testable import OpsMigrations

@Suite struct MigrationFileTests {
    @Test func parsesNumberedFileNames() {
        #expect(Migration.parseFileName("0001_foundation.sql")! == (1, "foundation"))
        #expect(Migration.parseFileName("12_alerts_history.sql")! == (12, "alerts_history"))
    }

    @Test(arguments: ["README.md", "foundation.sql", "0001.sql", "0001_.sql", "x001_a.sql", "0000_zero.sql", "0001_a.sql.bak"])
    func ignoresOtherFiles(_ name: String) {
        #expect(Migration.parseFileName(name) == nil)
    }

    @Test func ordersByVersionNumberNotText() throws {
        let m = { (v: Int) in Migration(version: v, name: "m\(v)", sql: "", checksum: "") }
        #expect(try Migration.ordered([m(10), m(2), m(1)]).map(\.version) == [1, 2, 10])
    }

    @Test func refusesDuplicateVersions() {
        let a = Migration(version: 3, name: "a", sql: "", checksum: "")
        let b = Migration(version: 3, name: "b", sql: "", checksum: "")
        #expect(throws: MigrationError.duplicateVersion(3, "a", "b")) { try Migration.ordered([a, b]) }
    }

    @Test func bundledMigrationsLoadInOrder() throws {
        let all = try MigrationSource.load(directory: nil)
        #expect(!all.isEmpty)
        #expect(all.first?.version == 1)
        #expect(all.map(\.version) == all.map(\.version).sorted())
        #expect(all.allSatisfy { $0.checksum.count == 64 })
    }
}

import ArgumentParser
import OpsMigrations
import OpsPostgres

struct MigrateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Apply pending database migrations (or list them with --status).")

    @Flag(help: "List applied and pending migrations; change nothing.")
    var status = false

    func run() throws {
        let config = try loadConfig()
        do {
            let migrations = try MigrationSource.load(directory: config.migrationsDirectory)
            let connection = try PGConnection(url: config.databaseURL, applicationName: "opsplane-migrate",
                                              connectTimeoutSeconds: config.dbConnectTimeoutSeconds)
            let runner = MigrationRunner(connection: connection)
            if status {
                let rows = try runner.status(migrations)
                print("version  state    applied_at            name")
                for r in rows {
                    print(pad(String(format4(r.version)), 9) + pad(r.state.rawValue, 9)
                          + pad(r.appliedAt ?? "-", 22) + r.name)
                }
                let pending = rows.filter { $0.state == .pending }.count
                let changed = rows.filter { $0.state == .changed }.count
                print("\(rows.count - pending - changed) applied, \(pending) pending"
                      + (changed > 0 ? ", \(changed) changed after being applied" : ""))
                return
            }
            let applied = try runner.migrate(migrations) { m in
                print("applying \(format4(m.version))_\(m.name) …")
            }
            print(applied.isEmpty ? "database is up to date (\(migrations.count) migrations)"
                                  : "applied \(applied.count) migration(s); \(migrations.count) in all")
        } catch let error as MigrationError {
            printError("opsplane migrate: \(error)")
            throw ExitCode(1)
        } catch let error as PGError {
            printError("opsplane migrate: database: \(error)")
            throw ExitCode(1)
        }
    }
}

func format4(_ v: Int) -> String {
    let s = String(v)
    return s.count >= 4 ? s : String(repeating: "0", count: 4 - s.count) + s
}

func pad(_ s: String, _ width: Int) -> String {
    s.count >= width ? s + " " : s + String(repeating: " ", count: width - s.count)
}

import ArgumentParser
import OpsAuth
import OpsJSON
import OpsPostgres

struct TokenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "token",
        abstract: "Create, list and revoke API tokens.",
        subcommands: [Create.self, List.self, Revoke.self])

    static func store() throws -> TokenStore {
        let config = try loadConfig()
        do {
            return TokenStore(connection: try PGConnection(url: config.databaseURL, applicationName: "opsplane-token",
                                                           connectTimeoutSeconds: config.dbConnectTimeoutSeconds))
        } catch let error as PGError {
            printError("opsplane token: database: \(error)")
            throw ExitCode(1)
        }
    }

    static func failing<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as TokenStoreError {
            printError("opsplane token: \(error)")
            throw ExitCode(1)
        } catch let error as PGError {
            printError("opsplane token: database: \(error)")
            throw ExitCode(1)
        }
    }

    struct Create: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a token; prints it once on stdout (only its SHA-256 is stored).")

        @Option(help: "admin, viewer or ingest.")
        var role: String

        @Option(help: "A name that says who or what holds the token.")
        var name: String

        @Option(help: "Expire after this many days (default: never).")
        var expiresInDays: Int?

        func validate() throws {
            guard Role(rawValue: role) != nil else { throw ValidationError("--role must be admin, viewer or ingest") }
            guard (1...200).contains(name.count) else { throw ValidationError("--name must be 1 to 200 characters") }
            if let d = expiresInDays, d < 1 { throw ValidationError("--expires-in-days must be at least 1") }
        }

        func run() throws {
            let store = try TokenCommand.store()
            let token = try TokenCommand.failing {
                try store.create(name: name, role: Role(rawValue: role)!, expiresInSeconds: expiresInDays.map { $0 * 86400 })
            }
            print(token)
            printError("created \(role) token '\(name)'; it is shown only this once")
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List tokens (never the tokens themselves).")

        @Flag(help: "Include revoked tokens.")
        var all = false

        @Flag(help: "JSON output.")
        var json = false

        func run() throws {
            let store = try TokenCommand.store()
            let rows = try TokenCommand.failing { try store.list(includeRevoked: all) }
            if json {
                print(JSON.array(rows.map { r in
                    ["id": .int(r.id), "name": .string(r.name), "role": .string(r.role),
                     "created_at": .string(r.createdAt), "last_used_at": .from(r.lastUsedAt),
                     "expires_at": .from(r.expiresAt), "revoked_at": .from(r.revokedAt)]
                }).serialized())
                return
            }
            print("id    role    created_at            last_used_at          expires_at            name")
            for r in rows {
                print(pad(String(r.id), 6) + pad(r.role, 8) + pad(r.createdAt, 22) + pad(r.lastUsedAt ?? "-", 22)
                      + pad(r.expiresAt ?? "-", 22) + r.name + (r.revokedAt != nil ? " (revoked)" : ""))
            }
        }
    }

    struct Revoke: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a live token by id or name.")

        @Argument(help: "The token's id or name.")
        var idOrName: String

        func run() throws {
            let store = try TokenCommand.store()
            try TokenCommand.failing { try store.revoke(idOrName) }
            print("revoked \(idOrName)")
        }
    }
}

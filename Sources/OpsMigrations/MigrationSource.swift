import Foundation
import OpsCrypto

/// Where migration files come from: a directory named by configuration, or the SQL files
/// built into the binary as a resource bundle.
public enum MigrationSource {
    public static func load(directory: String?) throws -> [Migration] {
        let path = (directory?.isEmpty == false) ? directory! : bundledDirectory()
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: path) else {
            throw MigrationError.directoryUnreadable(path)
        }
        var migrations: [Migration] = []
        for fileName in names {
            guard let (version, name) = Migration.parseFileName(fileName) else { continue }
            let fullPath = (path as NSString).appendingPathComponent(fileName)
            guard let data = FileManager.default.contents(atPath: fullPath) else {
                throw MigrationError.directoryUnreadable(fullPath)
            }
            let bytes = [UInt8](data)
            migrations.append(Migration(version: version, name: name,
                                        sql: String(decoding: bytes, as: UTF8.self),
                                        checksum: Crypto.hex(Crypto.sha256(bytes))))
        }
        return try Migration.ordered(migrations)
    }

    /// The `SQL` folder copied into the target's resource bundle.
    public static func bundledDirectory() -> String {
        Bundle.module.resourceURL!.appendingPathComponent("SQL").path
    }
}

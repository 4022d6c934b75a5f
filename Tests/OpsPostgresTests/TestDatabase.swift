import Foundation
import OpsCrypto
import OpsPostgres

/// A throw-away database created next to the one in OPS_DATABASE_URL (the stack that
/// `make test` starts) and dropped afterwards, so tests never touch the stack's data.
final class TestDatabase {
    static var baseURL: String? { ProcessInfo.processInfo.environment["OPS_DATABASE_URL"] }
    static var available: Bool { baseURL != nil }

    let name: String
    let url: String
    private let admin: PGConnection

    init() throws {
        let base = Self.baseURL!
        admin = try PGConnection(url: base)
        name = "opsplane_test_" + Crypto.hex(Crypto.randomBytes(6))
        // Identifiers cannot be parameters; the name is ours, made of [a-z0-9_] only.
        try admin.query("CREATE DATABASE \(name)")
        url = Self.replacingDatabase(in: base, with: name)
    }

    deinit {
        _ = try? admin.query("DROP DATABASE IF EXISTS \(name) WITH (FORCE)")
    }

    static func replacingDatabase(in url: String, with db: String) -> String {
        let query = url.firstIndex(of: "?").map { String(url[$0...]) } ?? ""
        let head = url.firstIndex(of: "?").map { String(url[..<$0]) } ?? url
        guard let slash = head.lastIndex(of: "/"), head[..<slash].hasSuffix("/") == false else {
            return head + "/" + db + query
        }
        return String(head[..<slash]) + "/" + db + query
    }
}

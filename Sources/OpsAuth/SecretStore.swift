import OpsCrypto
import OpsPostgres

/// Shared secrets kept in `ops.secrets`: the first worker that needs one creates it, the rest
/// read the same value (INSERT … ON CONFLICT DO NOTHING, then SELECT).
public struct SecretStore {
    let connection: PGConnection

    public init(connection: PGConnection) {
        self.connection = connection
    }

    public func loadOrCreate(_ name: String, bytes: Int = 32) throws -> [UInt8] {
        try connection.query("""
            INSERT INTO ops.secrets (name, value) VALUES ($1, decode($2, 'hex'))
            ON CONFLICT (name) DO NOTHING
            """, [name, Crypto.hex(Crypto.randomBytes(bytes))])
        let r = try connection.query("SELECT encode(value, 'hex') FROM ops.secrets WHERE name = $1", [name])
        return hexDecode(r.string(0, 0) ?? "")
    }
}

func hexDecode(_ hex: String) -> [UInt8] {
    var out: [UInt8] = []
    var chars = Array(hex.utf8).makeIterator()
    while let a = chars.next(), let b = chars.next() {
        func v(_ c: UInt8) -> UInt8 { c <= 57 ? c - 48 : (c | 0x20) - 87 }
        out.append(v(a) << 4 | v(b))
    }
    return out
}

/// Request ids tie a response, the worker's log line and nginx's access log together.
public enum RequestID {
    /// A caller's own id is kept when it is safe to echo and log: 1–64 of `[A-Za-z0-9._-]`.
    public static func isAcceptable(_ id: String) -> Bool {
        let u = id.utf8
        return !u.isEmpty && u.count <= 64 && u.allSatisfy { c in
            (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A)
                || c == UInt8(ascii: ".") || c == UInt8(ascii: "_") || c == UInt8(ascii: "-")
        }
    }

    /// The client's `X-Request-Id` if acceptable, else nginx's `$request_id`, else a new one.
    public static func choose(clientHeader: String?, proxyID: String?) -> String {
        if let c = clientHeader, isAcceptable(c) { return c }
        if let p = proxyID, isAcceptable(p) { return p }
        return generate()
    }

    /// 128 random bits as 32 hex digits, the same form as nginx's `$request_id`.
    public static func generate() -> String {
        var rng = SystemRandomNumberGenerator()
        let hex: [UInt8] = Array("0123456789abcdef".utf8)
        var out = [UInt8](repeating: 0, count: 32)
        for half in 0..<2 {
            var v = rng.next() as UInt64
            for i in 0..<16 {
                out[half * 16 + i] = hex[Int(v & 0xF)]
                v >>= 4
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}

/// The bits of Redis's wire protocol (RESP2) the probe needs: commands out, one reply in.
public enum RedisProtocol {
    public enum Reply: Equatable, Sendable {
        case simple(String)
        case error(String)
        case integer(Int64)
        case bulk([UInt8]?)
        case array([Reply]?)
    }

    /// A command as an array of bulk strings: `*2\r\n$4\r\nAUTH\r\n$3\r\npwd\r\n`.
    public static func command(_ parts: [String]) -> [UInt8] {
        var out = Array("*\(parts.count)\r\n".utf8)
        for p in parts {
            let bytes = Array(p.utf8)
            out += Array("$\(bytes.count)\r\n".utf8) + bytes + [13, 10]
        }
        return out
    }

    public enum ParseError: Error, Equatable { case malformed(String) }

    /// Parses one reply from the start of `buffer`. Returns nil when more bytes are needed,
    /// else the reply and how many bytes it used.
    public static func parse(_ buffer: [UInt8], from start: Int = 0) throws(ParseError) -> (Reply, Int)? {
        guard start < buffer.count else { return nil }
        guard let lineEnd = findCRLF(buffer, from: start + 1) else { return nil }
        let line = String(decoding: buffer[(start + 1)..<lineEnd], as: UTF8.self)
        let next = lineEnd + 2
        switch buffer[start] {
        case UInt8(ascii: "+"): return (.simple(line), next - start)
        case UInt8(ascii: "-"): return (.error(line), next - start)
        case UInt8(ascii: ":"):
            guard let v = Int64(line) else { throw .malformed("integer \(line)") }
            return (.integer(v), next - start)
        case UInt8(ascii: "$"):
            guard let n = Int(line), n >= -1, n <= 512 * 1024 * 1024 else { throw .malformed("bulk length \(line)") }
            if n == -1 { return (.bulk(nil), next - start) }
            guard buffer.count >= next + n + 2 else { return nil }
            return (.bulk(Array(buffer[next..<(next + n)])), next + n + 2 - start)
        case UInt8(ascii: "*"):
            guard let n = Int(line), n >= -1 else { throw .malformed("array length \(line)") }
            if n == -1 { return (.array(nil), next - start) }
            var items: [Reply] = []
            var at = next
            for _ in 0..<n {
                guard let (item, used) = try parse(buffer, from: at) else { return nil }
                items.append(item)
                at += used
            }
            return (.array(items), at - start)
        default:
            throw .malformed("unexpected type byte \(buffer[start])")
        }
    }

    static func findCRLF(_ b: [UInt8], from: Int) -> Int? {
        var i = from
        while i + 1 < b.count {
            if b[i] == 13 && b[i + 1] == 10 { return i }
            i += 1
        }
        return nil
    }
}

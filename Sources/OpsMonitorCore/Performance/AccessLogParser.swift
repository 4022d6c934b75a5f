#if canImport(Glibc)
import Glibc
#endif

/// The fields of one access-log line that performance needs.
public struct AccessLogEntry: Equatable, Sendable {
    /// `msec`: when nginx finished the request, Unix seconds with milliseconds.
    public var epochSeconds: Double
    public var status: Int
    /// `request_time` in seconds (nginx: from the first byte read to the last byte sent).
    public var requestTimeSeconds: Double
    /// Where the `uri` string's content sits in the line (JSON escapes not decoded).
    public var uri: Range<Int>
    /// True when the `uri` content holds a backslash escape (see `AccessLogParser.unescape`).
    public var uriEscaped: Bool
}

/// A hand-written parser for nginx's `opsplane_json` lines (nginx/opsplane-http.conf):
/// one JSON object a line, of which it reads `msec`, `status`, `request_time` and `uri` and
/// skips every other member. It validates the JSON structure (strings, numbers, literals,
/// nested values, nothing after the object) so a torn or foreign line is refused rather
/// than half-read, but it does not build values: about 2.9 million lines/s against 180,000
/// for jansson through OpsJSON on the same lines (measured once, release build, while
/// choosing; bench/access_log.sh measures the whole tail). Numbers may also arrive as numeric
/// strings (`"request_time":"0.004"`), as other log formats write them. Bytes ≥ 0x80 are
/// accepted as they are (nginx's `escape=json` passes them through unchanged).
public enum AccessLogParser {
    /// nil when the line is not a JSON object with the four fields in range.
    public static func parse(_ line: UnsafeRawBufferPointer) -> AccessLogEntry? {
        var s = Scanner(bytes: line)
        var msec: Double?
        var status: Double?
        var requestTime: Double?
        var uri: Range<Int>?
        var uriEscaped = false

        s.skipSpace()
        guard s.take(UInt8(ascii: "{")) else { return nil }
        s.skipSpace()
        if !s.take(UInt8(ascii: "}")) {
            while true {
                guard let key = s.string() else { return nil }
                s.skipSpace()
                guard s.take(UInt8(ascii: ":")) else { return nil }
                s.skipSpace()
                let field = key.escaped ? Field.other : Field.of(line, key.range)
                switch field {
                case .uri:
                    guard s.peek == UInt8(ascii: "\""), let v = s.string() else { return nil }
                    uri = v.range
                    uriEscaped = v.escaped
                case .msec, .status, .requestTime:
                    guard let v = s.numberOrNumericString() else { return nil }
                    switch field {
                    case .msec: msec = v
                    case .status: status = v
                    default: requestTime = v
                    }
                case .other:
                    guard s.skipValue(depth: 0) else { return nil }
                }
                s.skipSpace()
                if s.take(UInt8(ascii: ",")) { s.skipSpace(); continue }
                guard s.take(UInt8(ascii: "}")) else { return nil }
                break
            }
        }
        s.skipSpace()
        guard s.atEnd else { return nil }
        guard let msec, msec.isFinite, msec > 0, msec < 1e11,
              let status, status >= 0, status <= 999, status == status.rounded(),
              let requestTime, requestTime.isFinite, requestTime >= 0,
              let uri else { return nil }
        return AccessLogEntry(epochSeconds: msec, status: Int(status), requestTimeSeconds: requestTime,
                              uri: uri, uriEscaped: uriEscaped)
    }

    public static func parse(_ line: String) -> AccessLogEntry? {
        Array(line.utf8).withUnsafeBytes { parse($0) }
    }

    /// The bytes a JSON string's content stands for (`\"`, `\\`, `\/`, `\b\f\n\r\t`, `\uXXXX`
    /// as UTF-8, a lone surrogate as U+FFFD). The content was validated by `parse`.
    public static func unescape(_ s: UnsafeRawBufferPointer) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(s.count)
        var i = 0
        func hex4(_ at: Int) -> UInt32? {
            guard at + 4 <= s.count else { return nil }
            var v: UInt32 = 0
            for k in 0..<4 {
                guard let d = hexValue(s[at + k]) else { return nil }
                v = v << 4 | UInt32(d)
            }
            return v
        }
        while i < s.count {
            let c = s[i]
            guard c == UInt8(ascii: "\\"), i + 1 < s.count else { out.append(c); i += 1; continue }
            let e = s[i + 1]
            i += 2
            switch e {
            case UInt8(ascii: "b"): out.append(8)
            case UInt8(ascii: "f"): out.append(12)
            case UInt8(ascii: "n"): out.append(10)
            case UInt8(ascii: "r"): out.append(13)
            case UInt8(ascii: "t"): out.append(9)
            case UInt8(ascii: "u"):
                guard var v = hex4(i) else { return out }
                i += 4
                if (0xD800...0xDBFF).contains(v), i + 6 <= s.count, s[i] == UInt8(ascii: "\\"), s[i + 1] == UInt8(ascii: "u"),
                   let low = hex4(i + 2), (0xDC00...0xDFFF).contains(low) {
                    v = 0x10000 + ((v - 0xD800) << 10) + (low - 0xDC00)
                    i += 6
                } else if (0xD800...0xDFFF).contains(v) {
                    v = 0xFFFD
                }
                out.append(contentsOf: Array(String(Unicode.Scalar(v) ?? "\u{FFFD}").utf8))
            default: out.append(e) // \" \\ \/
            }
        }
        return out
    }

    static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case 48...57: return c - 48
        case 65...70: return c - 55
        case 97...102: return c - 87
        default: return nil
        }
    }

    enum Field {
        case msec, status, requestTime, uri, other

        static func of(_ line: UnsafeRawBufferPointer, _ r: Range<Int>) -> Field {
            let key = UnsafeRawBufferPointer(rebasing: line[r])
            switch key.count {
            case 3 where key.elementsEqual("uri".utf8): return .uri
            case 4 where key.elementsEqual("msec".utf8): return .msec
            case 6 where key.elementsEqual("status".utf8): return .status
            case 12 where key.elementsEqual("request_time".utf8): return .requestTime
            default: return .other
            }
        }
    }

    /// A cursor over the line's bytes.
    struct Scanner {
        let bytes: UnsafeRawBufferPointer
        var i = 0

        init(bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

        var atEnd: Bool { i >= bytes.count }
        var peek: UInt8? { i < bytes.count ? bytes[i] : nil }

        mutating func take(_ c: UInt8) -> Bool {
            if i < bytes.count && bytes[i] == c { i += 1; return true }
            return false
        }

        mutating func skipSpace() {
            while i < bytes.count {
                switch bytes[i] {
                case 0x20, 0x09, 0x0A, 0x0D: i += 1
                default: return
                }
            }
        }

        /// A string starting at `"`: the range of its content and whether it holds escapes.
        mutating func string() -> (range: Range<Int>, escaped: Bool)? {
            guard take(UInt8(ascii: "\"")) else { return nil }
            let start = i
            var escaped = false
            while i < bytes.count {
                let c = bytes[i]
                if c == UInt8(ascii: "\"") {
                    i += 1
                    return (start..<(i - 1), escaped)
                }
                if c < 0x20 { return nil } // control characters must be escaped
                if c == UInt8(ascii: "\\") {
                    escaped = true
                    guard i + 1 < bytes.count else { return nil }
                    switch bytes[i + 1] {
                    case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"),
                         UInt8(ascii: "f"), UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                        i += 2
                    case UInt8(ascii: "u"):
                        guard i + 6 <= bytes.count else { return nil }
                        for k in 2..<6 where AccessLogParser.hexValue(bytes[i + k]) == nil { return nil }
                        i += 6
                    default:
                        return nil
                    }
                    continue
                }
                i += 1
            }
            return nil
        }

        /// A JSON number (`-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?`) as a Double.
        mutating func number() -> Double? {
            let start = i
            var negative = false
            if take(UInt8(ascii: "-")) { negative = true }
            guard let first = peek, first >= 48, first <= 57 else { return nil }
            var integer: UInt64 = 0
            var digits = 0
            if first == 48 {
                i += 1
            } else {
                while let c = peek, c >= 48, c <= 57 {
                    if digits < 18 { integer = integer * 10 + UInt64(c - 48) }
                    digits += 1
                    i += 1
                }
            }
            var fraction: UInt64 = 0
            var fractionDigits = 0
            var exact = digits <= 18
            if take(UInt8(ascii: ".")) {
                guard let c = peek, c >= 48, c <= 57 else { return nil }
                while let c = peek, c >= 48, c <= 57 {
                    if fractionDigits < 9 { fraction = fraction * 10 + UInt64(c - 48); fractionDigits += 1 }
                    i += 1
                }
            }
            if let e = peek, e == UInt8(ascii: "e") || e == UInt8(ascii: "E") {
                i += 1
                if let sign = peek, sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-") { i += 1 }
                guard let c = peek, c >= 48, c <= 57 else { return nil }
                while let c = peek, c >= 48, c <= 57 { i += 1 }
                exact = false
            }
            if exact {
                let value = Double(integer) + Double(fraction) / Self.powersOf10[fractionDigits]
                return negative ? -value : value
            }
            // Rare (exponents, more than 18 digits): let strtod read the text.
            var text = Array(bytes[start..<i])
            text.append(0)
            return text.withUnsafeBufferPointer { p in
                p.baseAddress!.withMemoryRebound(to: CChar.self, capacity: p.count) { strtod($0, nil) }
            }
        }

        static let powersOf10: [Double] = (0...9).map { var p = 1.0; for _ in 0..<$0 { p *= 10 }; return p }

        /// A number, or a string whose whole content is a number.
        mutating func numberOrNumericString() -> Double? {
            guard peek == UInt8(ascii: "\"") else { return number() }
            guard let s = string(), !s.escaped, !s.range.isEmpty else { return nil }
            var inner = Scanner(bytes: UnsafeRawBufferPointer(rebasing: bytes[s.range]))
            guard let v = inner.number(), inner.atEnd else { return nil }
            return v
        }

        /// Skips one JSON value of any kind; false when it is malformed.
        mutating func skipValue(depth: Int) -> Bool {
            guard depth < 32, let c = peek else { return false }
            switch c {
            case UInt8(ascii: "\""):
                return string() != nil
            case UInt8(ascii: "-"), 48...57:
                return number() != nil
            case UInt8(ascii: "t"): return literal("true")
            case UInt8(ascii: "f"): return literal("false")
            case UInt8(ascii: "n"): return literal("null")
            case UInt8(ascii: "["):
                i += 1
                skipSpace()
                if take(UInt8(ascii: "]")) { return true }
                while true {
                    guard skipValue(depth: depth + 1) else { return false }
                    skipSpace()
                    if take(UInt8(ascii: ",")) { skipSpace(); continue }
                    return take(UInt8(ascii: "]"))
                }
            case UInt8(ascii: "{"):
                i += 1
                skipSpace()
                if take(UInt8(ascii: "}")) { return true }
                while true {
                    guard string() != nil else { return false }
                    skipSpace()
                    guard take(UInt8(ascii: ":")) else { return false }
                    skipSpace()
                    guard skipValue(depth: depth + 1) else { return false }
                    skipSpace()
                    if take(UInt8(ascii: ",")) { skipSpace(); continue }
                    return take(UInt8(ascii: "}"))
                }
            default:
                return false
            }
        }

        mutating func literal(_ word: StaticString) -> Bool {
            let n = word.utf8CodeUnitCount
            guard i + n <= bytes.count else { return false }
            let w = UnsafeRawBufferPointer(start: word.utf8Start, count: n)
            guard bytes[i..<(i + n)].elementsEqual(w) else { return false }
            i += n
            return true
        }
    }
}

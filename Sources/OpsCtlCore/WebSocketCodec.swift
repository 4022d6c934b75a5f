/// The client side of RFC 6455 without I/O: the upgrade request, the check of the server's
/// answer, frames in both directions. `opsctl events` runs it over a libcurl connection
/// (CONNECT_ONLY), so ws:// and wss:// share the REST client's TLS verification and CA file.
public enum WebSocket {
    public enum Opcode: UInt8, Sendable {
        case continuation = 0x0, text = 0x1, binary = 0x2, close = 0x8, ping = 0x9, pong = 0xA
    }

    public struct Frame: Equatable, Sendable {
        public var fin: Bool
        public var opcode: Opcode
        public var payload: [UInt8]
        public init(fin: Bool = true, opcode: Opcode, payload: [UInt8]) {
            self.fin = fin
            self.opcode = opcode
            self.payload = payload
        }
    }

    public struct ProtocolError: Error, Equatable, Sendable {
        public var message: String
        public init(_ message: String) { self.message = message }
    }

    /// A random Sec-WebSocket-Key (16 random bytes, base64).
    public static func makeKey() -> String {
        var g = SystemRandomNumberGenerator()
        return base64((0..<16).map { _ in UInt8.random(in: 0...255, using: &g) })
    }

    /// The Sec-WebSocket-Accept a server must answer for `key`.
    public static func acceptValue(forKey key: String) -> String {
        base64(SHA1.digest(Array((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").utf8)))
    }

    /// The upgrade request. `extraHeaders` are complete `Name: value` lines.
    public static func upgradeRequest(path: String, host: String, key: String, extraHeaders: [String]) -> [UInt8] {
        var lines = ["GET \(path) HTTP/1.1", "Host: \(host)", "Upgrade: websocket", "Connection: Upgrade",
                     "Sec-WebSocket-Key: \(key)", "Sec-WebSocket-Version: 13"]
        lines += extraHeaders
        return Array((lines.joined(separator: "\r\n") + "\r\n\r\n").utf8)
    }

    /// One client frame: always masked (RFC 6455 §5.3).
    public static func encode(_ frame: Frame, maskKey: [UInt8]? = nil) -> [UInt8] {
        var g = SystemRandomNumberGenerator()
        let mask = maskKey ?? (0..<4).map { _ in UInt8.random(in: 0...255, using: &g) }
        var out: [UInt8] = [(frame.fin ? 0x80 : 0) | frame.opcode.rawValue]
        let n = frame.payload.count
        if n < 126 {
            out.append(0x80 | UInt8(n))
        } else if n <= 0xFFFF {
            out.append(0x80 | 126)
            out += [UInt8(n >> 8), UInt8(n & 0xFF)]
        } else {
            out.append(0x80 | 127)
            for shift in stride(from: 56, through: 0, by: -8) { out.append(UInt8((UInt64(n) >> UInt64(shift)) & 0xFF)) }
        }
        out += mask
        for (i, b) in frame.payload.enumerated() { out.append(b ^ mask[i & 3]) }
        return out
    }

    /// A close frame's payload: the code (2 bytes, network order) and a UTF-8 reason.
    public static func closePayload(code: UInt16, reason: String = "") -> [UInt8] {
        [UInt8(code >> 8), UInt8(code & 0xFF)] + Array(reason.utf8.prefix(123))
    }

    /// The code and reason of a received close frame (nil code: none was sent).
    public static func parseClose(_ payload: [UInt8]) -> (code: Int?, reason: String) {
        guard payload.count >= 2 else { return (nil, "") }
        return (Int(payload[0]) << 8 | Int(payload[1]), String(decoding: payload[2...], as: UTF8.self))
    }

    /// Server frames, read from a byte stream in whatever pieces it arrives.
    public struct FrameDecoder: Sendable {
        public var maxPayload: Int
        private var buffer: [UInt8] = []
        private var start = 0

        public init(maxPayload: Int = 16 << 20) { self.maxPayload = maxPayload }

        public mutating func push(_ bytes: [UInt8]) {
            if start > 0, start == buffer.count {
                buffer.removeAll(keepingCapacity: true)
                start = 0
            }
            buffer += bytes
        }

        /// The next complete frame, nil when more bytes are needed.
        public mutating func next() throws -> Frame? {
            let available = buffer.count - start
            guard available >= 2 else { return nil }
            let b0 = buffer[start], b1 = buffer[start + 1]
            if b0 & 0x70 != 0 { throw ProtocolError("reserved bits set without an extension") }
            guard let opcode = Opcode(rawValue: b0 & 0x0F) else { throw ProtocolError("unknown opcode \(b0 & 0x0F)") }
            let masked = b1 & 0x80 != 0
            var length = UInt64(b1 & 0x7F)
            var offset = 2
            if length == 126 {
                guard available >= 4 else { return nil }
                length = UInt64(buffer[start + 2]) << 8 | UInt64(buffer[start + 3])
                offset = 4
            } else if length == 127 {
                guard available >= 10 else { return nil }
                length = 0
                for i in 0..<8 { length = length << 8 | UInt64(buffer[start + 2 + i]) }
                offset = 10
            }
            if opcode.rawValue >= 0x8, length > 125 || b0 & 0x80 == 0 {
                throw ProtocolError("control frame longer than 125 bytes or fragmented")
            }
            guard length <= UInt64(maxPayload) else { throw ProtocolError("frame of \(length) bytes is over the \(maxPayload)-byte limit") }
            var maskKey: [UInt8] = []
            if masked {
                guard available >= offset + 4 else { return nil }
                maskKey = Array(buffer[(start + offset)..<(start + offset + 4)])
                offset += 4
            }
            let n = Int(length)
            guard available >= offset + n else { return nil }
            var payload = Array(buffer[(start + offset)..<(start + offset + n)])
            if masked { for i in 0..<payload.count { payload[i] ^= maskKey[i & 3] } }
            start += offset + n
            if start > 1 << 16, start * 2 > buffer.count {
                buffer.removeFirst(start)
                start = 0
            }
            return Frame(fin: b0 & 0x80 != 0, opcode: opcode, payload: payload)
        }
    }

    /// Joins fragmented messages; control frames pass through between fragments.
    public struct MessageAssembler: Sendable {
        public enum Event: Equatable, Sendable {
            case text(String)
            case binary([UInt8])
            case ping([UInt8])
            case pong
            case close(code: Int?, reason: String)
        }

        private var partial: [UInt8]?
        private var partialOpcode: Opcode = .text
        public var maxMessage: Int

        public init(maxMessage: Int = 16 << 20) { self.maxMessage = maxMessage }

        public mutating func accept(_ frame: Frame) throws -> Event? {
            switch frame.opcode {
            case .ping: return .ping(frame.payload)
            case .pong: return .pong
            case .close:
                let c = WebSocket.parseClose(frame.payload)
                return .close(code: c.code, reason: c.reason)
            case .text, .binary:
                guard partial == nil else { throw ProtocolError("a new message started inside a fragmented one") }
                if frame.fin { return frame.opcode == .text ? .text(String(decoding: frame.payload, as: UTF8.self)) : .binary(frame.payload) }
                partial = frame.payload
                partialOpcode = frame.opcode
                return nil
            case .continuation:
                guard var p = partial else { throw ProtocolError("continuation frame without a message") }
                p += frame.payload
                guard p.count <= maxMessage else { throw ProtocolError("message over the \(maxMessage)-byte limit") }
                if !frame.fin {
                    partial = p
                    return nil
                }
                partial = nil
                return partialOpcode == .text ? .text(String(decoding: p, as: UTF8.self)) : .binary(p)
            }
        }
    }
}

/// The head of an HTTP/1.1 response: status and headers (names lower-cased).
public struct HTTPResponseHead: Equatable, Sendable {
    public var status: Int
    public var headers: [String: String]
    /// Bytes the head took, with the blank line; what follows is body or WebSocket frames.
    public var length: Int

    /// nil while the blank line that ends the head has not arrived.
    public static func parse(_ bytes: [UInt8]) throws -> HTTPResponseHead? {
        guard let end = find([13, 10, 13, 10], in: bytes) else {
            if bytes.count > 64 << 10 { throw WebSocket.ProtocolError("response head over 64 KiB") }
            return nil
        }
        let text = String(decoding: bytes[0..<end], as: UTF8.self)
        let lines = text.split(separator: "\r\n", omittingEmptySubsequences: false)
        let statusParts = lines.first?.split(separator: " ", maxSplits: 2) ?? []
        guard statusParts.count >= 2, statusParts[0].hasPrefix("HTTP/"), let status = Int(statusParts[1]) else {
            throw WebSocket.ProtocolError("not an HTTP response: \(lines.first.map(String.init)?.prefix(80) ?? "")")
        }
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].trimmedString.lowercased()] = line[line.index(after: colon)...].trimmedString
        }
        return HTTPResponseHead(status: status, headers: headers, length: end + 4)
    }

    /// A chunked body (Transfer-Encoding: chunked) joined; stops at the last chunk or at the
    /// first thing that is not a chunk.
    public static func dechunk(_ bytes: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        var i = 0
        while i < bytes.count {
            guard let lineEnd = find([13, 10], in: Array(bytes[i...])) else { break }
            let sizeText = String(decoding: bytes[i..<(i + lineEnd)], as: UTF8.self).split(separator: ";").first.map(String.init) ?? ""
            guard let size = Int(sizeText.trimmed, radix: 16), size > 0 else { break }
            let start = i + lineEnd + 2
            out += bytes[start..<min(bytes.count, start + size)]
            i = start + size + 2
        }
        return out
    }

    public static func find(_ needle: [UInt8], in hay: [UInt8]) -> Int? {
        guard hay.count >= needle.count else { return nil }
        for i in 0...(hay.count - needle.count) where hay[i] == needle[0] {
            if Array(hay[i..<(i + needle.count)]) == needle { return i }
        }
        return nil
    }

    /// Whether this is a valid answer to an upgrade request sent with `key`.
    public func acceptsUpgrade(key: String) -> Bool {
        status == 101 && headers["upgrade"]?.lowercased() == "websocket"
            && (headers["connection"]?.lowercased().contains("upgrade") ?? false)
            && headers["sec-websocket-accept"] == WebSocket.acceptValue(forKey: key)
    }
}

extension Substring {
    var trimmedString: String { String(self).trimmed }
}

public func base64(_ bytes: [UInt8]) -> String {
    let table = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
    var out = ""
    var i = 0
    while i < bytes.count {
        let b0 = bytes[i], b1 = i + 1 < bytes.count ? bytes[i + 1] : 0, b2 = i + 2 < bytes.count ? bytes[i + 2] : 0
        out.append(table[Int(b0 >> 2)])
        out.append(table[Int((b0 & 3) << 4 | b1 >> 4)])
        out.append(i + 1 < bytes.count ? table[Int((b1 & 15) << 2 | b2 >> 6)] : "=")
        out.append(i + 2 < bytes.count ? table[Int(b2 & 63)] : "=")
        i += 3
    }
    return out
}

/// SHA-1, only for the WebSocket handshake's accept value (RFC 6455 §4.2.2).
public enum SHA1 {
    public static func digest(_ message: [UInt8]) -> [UInt8] {
        var h: [UInt32] = [0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0]
        var m = message
        let bitLength = UInt64(message.count) * 8
        m.append(0x80)
        while m.count % 64 != 56 { m.append(0) }
        for shift in stride(from: 56, through: 0, by: -8) { m.append(UInt8((bitLength >> UInt64(shift)) & 0xFF)) }
        var w = [UInt32](repeating: 0, count: 80)
        for chunk in stride(from: 0, to: m.count, by: 64) {
            for i in 0..<16 {
                w[i] = UInt32(m[chunk + 4 * i]) << 24 | UInt32(m[chunk + 4 * i + 1]) << 16
                    | UInt32(m[chunk + 4 * i + 2]) << 8 | UInt32(m[chunk + 4 * i + 3])
            }
            for i in 16..<80 {
                let x = w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16]
                w[i] = x << 1 | x >> 31
            }
            var a = h[0], b = h[1], c = h[2], d = h[3], e = h[4]
            for i in 0..<80 {
                let f: UInt32, k: UInt32
                switch i {
                case 0..<20: f = (b & c) | (~b & d); k = 0x5A827999
                case 20..<40: f = b ^ c ^ d; k = 0x6ED9EBA1
                case 40..<60: f = (b & c) | (b & d) | (c & d); k = 0x8F1BBCDC
                default: f = b ^ c ^ d; k = 0xCA62C1D6
                }
                let t = (a << 5 | a >> 27) &+ f &+ e &+ k &+ w[i]
                e = d
                d = c
                c = b << 30 | b >> 2
                b = a
                a = t
            }
            h[0] = h[0] &+ a; h[1] = h[1] &+ b; h[2] = h[2] &+ c; h[3] = h[3] &+ d; h[4] = h[4] &+ e
        }
        return h.flatMap { v in [UInt8(v >> 24), UInt8((v >> 16) & 0xFF), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)] }
    }
}

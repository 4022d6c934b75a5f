/// The server's base URL (`OPSCTL_URL`): `http(s)://host[:port][/prefix]`, and the addresses
/// derived from it.
public struct ServerURL: Equatable, Sendable {
    public var tls: Bool
    /// As written in the URL (an IPv6 address keeps its brackets).
    public var host: String
    public var port: Int
    public var explicitPort: Bool
    /// "" or "/prefix" without a trailing slash.
    public var prefix: String

    public init(_ text: String) throws {
        let normalized = try ServerURL.normalize(text)
        let tls = normalized.hasPrefix("https://")
        var rest = Substring(normalized.dropFirst(tls ? 8 : 7))
        var prefix = ""
        if let slash = rest.firstIndex(of: "/") {
            prefix = String(rest[slash...])
            rest = rest[..<slash]
        }
        var host = String(rest)
        var port = tls ? 443 : 80
        var explicit = false
        if let colon = rest.lastIndex(of: ":"), !rest[colon...].contains("]") {
            host = String(rest[..<colon])
            port = Int(rest[rest.index(after: colon)...]) ?? port
            explicit = true
        }
        self.tls = tls
        self.host = host
        self.port = port
        self.explicitPort = explicit
        self.prefix = prefix
    }

    /// The host for a socket connection (IPv6 without brackets).
    public var connectHost: String {
        host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
    }

    /// The Host header: host, and the port when the URL names one.
    public var hostHeader: String { explicitPort ? "\(host):\(port)" : host }

    public var isLoopback: Bool {
        let h = connectHost.lowercased()
        return h == "localhost" || h.hasPrefix("127.") || h == "::1"
    }

    /// Scheme and host lower-cased, no trailing slash; refuses what is not a plain http(s) base
    /// URL (credentials in it, a query, a fragment, another scheme).
    public static func normalize(_ raw: String) throws -> String {
        let text = raw.trimmed
        func bad(_ why: String) -> Failure {
            Failure(.usage, code: "bad_url", "server URL \(Redactor.redact(text)) \(why); expected http(s)://host[:port][/prefix]")
        }
        let lower = text.lowercased()
        let scheme: String
        if lower.hasPrefix("https://") { scheme = "https" } else if lower.hasPrefix("http://") { scheme = "http" } else {
            throw bad("is not an http:// or https:// URL")
        }
        var rest = Substring(text.dropFirst(scheme.count + 3))
        if rest.contains("?") || rest.contains("#") { throw bad("has a query or fragment") }
        if rest.contains(where: { $0.isWhitespace }) { throw bad("contains white space") }
        var path = ""
        if let slash = rest.firstIndex(of: "/") {
            path = String(rest[slash...])
            rest = rest[..<slash]
        }
        if rest.contains("@") { throw bad("has credentials in it (put the token in OPSCTL_TOKEN or use opsctl login)") }
        if rest.isEmpty { throw bad("has no host") }
        if let colon = rest.lastIndex(of: ":"), !rest[colon...].contains("]") {
            let port = rest[rest.index(after: colon)...]
            guard let p = Int(port), (1...65535).contains(p) else { throw bad("has an invalid port") }
        }
        while path.hasSuffix("/") { path.removeLast() }
        if path.split(separator: "/").contains(where: { $0 == ".." || $0 == "." }) { throw bad("has dot segments") }
        return "\(scheme)://\(rest.lowercased())\(path)"
    }

    /// `base + path`, with the query parameters percent-encoded (nil values left out).
    public static func api(_ base: String, _ path: String, _ query: [(String, String?)] = []) -> String {
        var url = base + path
        let pairs = query.compactMap { k, v in v.map { "\(encode(k))=\(encode($0))" } }
        if !pairs.isEmpty { url += "?" + pairs.joined(separator: "&") }
        return url
    }

    /// RFC 3986 percent-encoding of everything but the unreserved characters.
    public static func encode(_ s: String) -> String {
        var out = ""
        for b in s.utf8 {
            switch b {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(b))
            default:
                let hex = Array("0123456789ABCDEF")
                out += "%" + String(hex[Int(b >> 4)]) + String(hex[Int(b & 15)])
            }
        }
        return out
    }
}

/// The file name a download is saved under: the Content-Disposition `filename`, reduced to a
/// plain name in the current folder (no path, no leading dot), else `fallback`.
public func downloadFileName(contentDisposition: String?, fallback: String) -> String {
    guard let header = contentDisposition else { return fallback }
    var name: String?
    for part in header.split(separator: ";") {
        let p = String(part).trimmed
        guard p.lowercased().hasPrefix("filename=") else { continue }
        var v = String(p.dropFirst("filename=".count)).trimmed
        if v.hasPrefix("\""), v.hasSuffix("\""), v.count >= 2 { v = String(v.dropFirst().dropLast()) }
        name = v
    }
    guard var n = name else { return fallback }
    if let slash = n.lastIndex(where: { $0 == "/" || $0 == "\\" }) { n = String(n[n.index(after: slash)...]) }
    n = String(n.unicodeScalars.filter { $0.value >= 0x20 && $0.value != 0x7f }.map(Character.init))
    while n.hasPrefix(".") { n.removeFirst() }
    return n.isEmpty ? fallback : n
}

/// Delays between reconnection attempts: 1, 2, 4, 8, 16, then 30 s.
public func reconnectDelaySeconds(attempt: Int) -> Int {
    guard attempt > 0 else { return 1 }
    return min(30, 1 << min(attempt, 5))
}

/// `--timeout` in seconds to milliseconds, at least 1 ms.
public func milliseconds(seconds: Double) -> Int { max(1, Int((seconds * 1000).rounded())) }

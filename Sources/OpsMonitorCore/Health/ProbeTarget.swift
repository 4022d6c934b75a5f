/// Where a tcp or redis probe connects, parsed from its configured target.
public struct ProbeAddress: Sendable, Equatable {
    public var host: String
    public var port: Int
    /// Redis only: the password of `redis://[user]:password@host:port`.
    public var password: String?
    public var user: String?

    public init(host: String, port: Int, password: String? = nil, user: String? = nil) {
        self.host = host
        self.port = port
        self.password = password
        self.user = user
    }

    /// `host:port`, `[::1]:port`, or (redis) `redis://[[user]:password@]host:port[/db]`.
    public static func parse(_ target: String) -> ProbeAddress? {
        var rest = Substring(target)
        var user: String? = nil, password: String? = nil
        if let scheme = rest.range(of: "://") {
            guard ["redis", "tcp"].contains(rest[..<scheme.lowerBound].lowercased()) else { return nil }
            rest = rest[scheme.upperBound...]
            if let slash = rest.firstIndex(of: "/") { rest = rest[..<slash] }
            if let at = rest.lastIndex(of: "@") {
                let credentials = rest[..<at]
                if let colon = credentials.firstIndex(of: ":") {
                    let u = String(credentials[..<colon])
                    user = u.isEmpty ? nil : TargetPercentDecoding.decode(u)
                    password = TargetPercentDecoding.decode(String(credentials[credentials.index(after: colon)...]))
                } else if !credentials.isEmpty {
                    password = TargetPercentDecoding.decode(String(credentials))
                }
                rest = rest[rest.index(after: at)...]
            }
        }
        let host: Substring, portText: Substring
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]") else { return nil }
            host = rest[rest.index(after: rest.startIndex)..<close]
            let after = rest[rest.index(after: close)...]
            guard after.hasPrefix(":") else { return nil }
            portText = after.dropFirst()
        } else {
            guard let colon = rest.lastIndex(of: ":") else { return nil }
            host = rest[..<colon]
            portText = rest[rest.index(after: colon)...]
        }
        guard !host.isEmpty, let port = Int(portText), (1...65535).contains(port) else { return nil }
        return ProbeAddress(host: String(host), port: port, password: password, user: user)
    }
}

enum TargetPercentDecoding {
    static func decode(_ s: String) -> String {
        guard s.contains("%") else { return s }
        var bytes: [UInt8] = []
        var it = Array(s.utf8)[...]
        while let b = it.popFirst() {
            if b == UInt8(ascii: "%"), it.count >= 2,
               let v = UInt8(String(decoding: it.prefix(2), as: UTF8.self), radix: 16) {
                bytes.append(v)
                it = it.dropFirst(2)
            } else {
                bytes.append(b)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

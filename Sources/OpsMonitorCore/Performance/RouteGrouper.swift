/// Maps a request path to its route group: the first route template that fits (segments
/// compared the way the API's router does: empty segments ignored, percent-escapes decoded),
/// "static" for the frontend's files, "other" for anything else. The groups are fixed when
/// the grouper is made, so no request, however hostile, can add a group: the per-minute
/// table holds at most `groups.count` rows a minute.
public struct RouteGrouper: Sendable {
    /// Group names by index: the templates in order, then "static", then "other".
    public let groups: [String]
    public let staticGroup: Int
    public let otherGroup: Int

    private let templates: [RouteTemplate]
    /// Template indices by segment count, in table order.
    private let bySegmentCount: [Int: [Int]]
    private let staticPrefixes: [[UInt8]]

    public init(templates: [String], staticPrefixes: [String] = AccessLogConfig.defaultStaticPrefixes) {
        var seen = Set<String>()
        self.templates = templates.compactMap { t in seen.insert(t).inserted ? RouteTemplate(t) : nil }
        var index: [Int: [Int]] = [:]
        for (i, t) in self.templates.enumerated() { index[t.segments.count, default: []].append(i) }
        bySegmentCount = index
        self.staticPrefixes = staticPrefixes.map { p in
            var bytes = Array(p.utf8)
            while bytes.count > 1 && bytes.last == UInt8(ascii: "/") { bytes.removeLast() }
            return bytes
        }
        groups = self.templates.map(\.text) + ["static", "other"]
        staticGroup = groups.count - 2
        otherGroup = groups.count - 1
    }

    public init(_ config: AccessLogConfig) {
        self.init(templates: config.templates, staticPrefixes: config.staticPrefixes)
    }

    /// The group of a request URI (a query string is ignored).
    public func group(uri: String) -> String {
        let bytes = Array(uri.utf8)
        return bytes.withUnsafeBytes { groups[group(path: Self.pathPart(of: $0))] }
    }

    /// The bytes before `?` (the query string never decides the group).
    public static func pathPart(of uri: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        if let q = uri.firstIndex(of: UInt8(ascii: "?")) {
            return UnsafeRawBufferPointer(rebasing: uri[..<q])
        }
        return uri
    }

    /// The group index of a path (no query string), raw as nginx logged it.
    public func group(path: UnsafeRawBufferPointer) -> Int {
        let slash = UInt8(ascii: "/")
        if path.count == 1 && path[0] == slash { return staticGroup } // `/` redirects to the dashboard
        for prefix in staticPrefixes where Self.hasSegmentPrefix(path, prefix) { return staticGroup }
        guard path.first == slash else { return otherGroup } // "*", "-", absolute URIs, garbage

        // Split into segments, skipping empty ones.
        var segments: [Range<Int>] = []
        segments.reserveCapacity(8)
        var start = 0
        var i = 0
        let n = path.count
        while i <= n {
            if i == n || path[i] == slash {
                if i > start { segments.append(start..<i) }
                if segments.count > 16 { return otherGroup }
                start = i + 1
            }
            i += 1
        }
        guard let candidates = bySegmentCount[segments.count] else { return otherGroup }
        // Percent-decode only segments that need it (rare); a bad escape is no route.
        var decoded: [[UInt8]?] = Array(repeating: nil, count: segments.count)
        for (k, r) in segments.enumerated() {
            if path[r].contains(UInt8(ascii: "%")) {
                guard let d = Self.percentDecode(UnsafeRawBufferPointer(rebasing: path[r])) else { return otherGroup }
                decoded[k] = d
            }
            let isDot = decoded[k].map { $0 == [46] || $0 == [46, 46] } ?? (path[r].elementsEqual([46]) || path[r].elementsEqual([46, 46]))
            if isDot { return otherGroup } // the router refuses dot segments
        }
        outer: for t in candidates {
            for (k, seg) in templates[t].segments.enumerated() {
                guard case .literal(let lit) = seg else { continue }
                let same = decoded[k].map { $0 == lit } ?? path[segments[k]].elementsEqual(lit)
                if !same { continue outer }
            }
            return t
        }
        return otherGroup
    }

    /// `path` is `prefix` or starts with `prefix/` (so `/admin/opsx` is not under `/admin/ops`).
    static func hasSegmentPrefix(_ path: UnsafeRawBufferPointer, _ prefix: [UInt8]) -> Bool {
        guard path.count >= prefix.count, path.prefix(prefix.count).elementsEqual(prefix) else { return false }
        return path.count == prefix.count || prefix.last == UInt8(ascii: "/") || path[prefix.count] == UInt8(ascii: "/")
    }

    static func percentDecode(_ s: UnsafeRawBufferPointer) -> [UInt8]? {
        func hex(_ c: UInt8) -> UInt8? {
            switch c {
            case 48...57: return c - 48
            case 65...70: return c - 55
            case 97...102: return c - 87
            default: return nil
            }
        }
        var out: [UInt8] = []
        out.reserveCapacity(s.count)
        var i = 0
        while i < s.count {
            if s[i] == UInt8(ascii: "%") {
                guard i + 2 < s.count, let h = hex(s[i + 1]), let l = hex(s[i + 2]) else { return nil }
                out.append(h << 4 | l)
                i += 3
            } else {
                out.append(s[i])
                i += 1
            }
        }
        return out
    }
}

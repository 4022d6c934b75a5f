/// Targets as they may be shown and stored (ops.monitor_services): passwords replaced by
/// `***` in URLs (`postgresql://user:***@host/db`, `redis://:***@host:6379`), in libpq
/// `key=value` strings (`password=***`) and in query parameters (`?password=***`).
public enum TargetRedaction {
    static let secretKeys: Set<String> = ["password", "pass", "passwd", "pwd", "secret", "token", "sslpassword", "apikey", "api_key", "access_token"]

    public static func redact(_ target: String) -> String {
        var out = target
        if let scheme = out.range(of: "://") {
            // userinfo ends at the last "@" before the first "/", "?" or "#" of the authority.
            let authorityStart = scheme.upperBound
            let authorityEnd = out[authorityStart...].firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" }) ?? out.endIndex
            if let at = out[authorityStart..<authorityEnd].lastIndex(of: "@") {
                let userinfo = out[authorityStart..<at]
                if let colon = userinfo.firstIndex(of: ":") {
                    out.replaceSubrange(out.index(after: colon)..<at, with: "***")
                }
            }
            out = redactQuery(out)
        } else if out.contains("=") {
            out = redactKeyValues(out)
        }
        return out
    }

    /// `?a=1&password=x` → `?a=1&password=***`.
    static func redactQuery(_ url: String) -> String {
        guard let q = url.firstIndex(of: "?") else { return url }
        let head = url[...q]
        var query = url[url.index(after: q)...]
        var fragment = Substring("")
        if let hash = query.firstIndex(of: "#") { fragment = query[hash...]; query = query[..<hash] }
        let parts = query.split(separator: "&", omittingEmptySubsequences: false).map { part -> String in
            guard let eq = part.firstIndex(of: "=") else { return String(part) }
            return secretKeys.contains(part[..<eq].lowercased()) ? part[...eq] + "***" : String(part)
        }
        return head + parts.joined(separator: "&") + fragment
    }

    /// libpq `host=x password='a b' dbname=y` → `host=x password=*** dbname=y`.
    static func redactKeyValues(_ s: String) -> String {
        var out = ""
        var i = s.startIndex
        while i < s.endIndex {
            // Copy whitespace.
            if s[i].isWhitespace { out.append(s[i]); i = s.index(after: i); continue }
            let keyStart = i
            while i < s.endIndex, s[i] != "=", !s[i].isWhitespace { i = s.index(after: i) }
            let key = s[keyStart..<i]
            out += key
            // Spaces around "=" are allowed by libpq.
            var j = i
            while j < s.endIndex, s[j].isWhitespace { j = s.index(after: j) }
            guard j < s.endIndex, s[j] == "=" else { continue }
            out += s[i...j]
            i = s.index(after: j)
            while i < s.endIndex, s[i].isWhitespace { out.append(s[i]); i = s.index(after: i) }
            let valueStart = i
            if i < s.endIndex, s[i] == "'" {
                i = s.index(after: i)
                while i < s.endIndex, s[i] != "'" {
                    if s[i] == "\\" { i = s.index(after: i); if i == s.endIndex { break } }
                    i = s.index(after: i)
                }
                if i < s.endIndex { i = s.index(after: i) }
            } else {
                while i < s.endIndex, !s[i].isWhitespace { i = s.index(after: i) }
            }
            out += secretKeys.contains(key.lowercased()) ? "***" : String(s[valueStart..<i])
        }
        return out
    }
}

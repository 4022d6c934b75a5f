/// The page route a beacon came from, reduced to a template so the ring buffer has one slot
/// set per page, not per record: `/agents/4411/runs?tab=2` → `/agents/:id/runs`.
/// Segments that are numbers, UUIDs, long hex or long mixed tokens become `:id`; at most
/// `maxSegments` segments are kept; the result is at most `maxLength` characters.
public enum RouteTemplate {
    public static let maxSegments = 8
    public static let maxLength = 200

    public static func of(_ route: String) -> String {
        var path = Substring(route)
        // A full URL (scheme://host/path): keep only the path.
        if let colon = path.firstIndex(of: ":"), path[colon...].hasPrefix("://"),
           path[..<colon].allSatisfy({ $0.isLetter || $0 == "+" || $0 == "-" || $0 == "." }) {
            let afterScheme = path[path.index(colon, offsetBy: 3)...]
            path = afterScheme.firstIndex(of: "/").map { afterScheme[$0...] } ?? "/"
        }
        if let q = path.firstIndex(where: { $0 == "?" || $0 == "#" }) { path = path[..<q] }
        let segments = path.split(separator: "/").prefix(maxSegments).map { seg -> String in
            isIdentifier(seg) ? ":id" : String(seg.prefix(64))
        }
        let out = "/" + segments.joined(separator: "/")
        return String(out.prefix(maxLength))
    }

    static func isIdentifier(_ s: Substring) -> Bool {
        if s.allSatisfy(\.isNumber) { return true }
        let hexish = s.filter { $0 != "-" }
        if hexish.count >= 8, hexish.allSatisfy(\.isHexDigit), hexish.contains(where: \.isNumber) { return true }
        // Long tokens mixing letters and digits (slugs with ids, base64 ids).
        if s.count >= 16, s.contains(where: \.isNumber), s.contains(where: \.isLetter), !s.contains(where: { $0 == "." }) { return true }
        return false
    }
}

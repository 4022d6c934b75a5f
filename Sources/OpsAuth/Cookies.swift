/// Parses a `Cookie:` header (`a=1; b=2`). The first occurrence of a name wins, as browsers
/// send the most specific cookie first.
public func parseCookies(_ header: String?) -> [String: String] {
    guard let header else { return [:] }
    var out: [String: String] = [:]
    for part in header.split(separator: ";") {
        let trimmed = part.drop(while: { $0 == " " })
        guard let eq = trimmed.firstIndex(of: "=") else { continue }
        let name = String(trimmed[..<eq])
        var value = trimmed[trimmed.index(after: eq)...]
        if value.hasPrefix("\""), value.hasSuffix("\""), value.count >= 2 { value = value.dropFirst().dropLast() }
        if out[name] == nil { out[name] = String(value) }
    }
    return out
}

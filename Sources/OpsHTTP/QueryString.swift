/// A parsed query string: ordered name/value pairs; a name may repeat.
public struct QueryString: Equatable, Sendable {
    public let pairs: [(name: String, value: String)]

    public init(pairs: [(name: String, value: String)] = []) {
        self.pairs = pairs
    }

    /// Parses `a=1&b=two+words&c=%C3%A9`. A name without `=` has the empty value.
    /// Throws a 400 `bad_query` naming the offending parameter on a malformed escape,
    /// invalid UTF-8 or a NUL byte.
    public static func parse(_ raw: String) throws(APIError) -> QueryString {
        if raw.isEmpty { return QueryString() }
        var pairs: [(name: String, value: String)] = []
        for part in raw.split(separator: "&", omittingEmptySubsequences: true) {
            let eq = part.firstIndex(of: "=")
            let rawName = eq.map { part[..<$0] } ?? part
            let rawValue = eq.map { part[part.index(after: $0)...] } ?? ""
            do {
                let name = try PercentDecoding.decode(rawName, plusAsSpace: true)
                let value = try PercentDecoding.decode(rawValue, plusAsSpace: true)
                pairs.append((name, value))
            } catch {
                let shown = String(rawName.prefix(64))
                throw APIError.badRequest("bad_query", "Query parameter '\(shown)' is not valid: \(explain(error)).")
            }
        }
        return QueryString(pairs: pairs)
    }

    /// The first value for `name`, or nil when absent.
    public subscript(name: String) -> String? {
        pairs.first(where: { $0.name == name })?.value
    }

    public func values(_ name: String) -> [String] {
        pairs.filter { $0.name == name }.map(\.value)
    }

    public static func == (lhs: QueryString, rhs: QueryString) -> Bool {
        lhs.pairs.count == rhs.pairs.count
            && zip(lhs.pairs, rhs.pairs).allSatisfy { $0.name == $1.name && $0.value == $1.value }
    }
}

func explain(_ failure: PercentDecoding.Failure) -> String {
    switch failure {
    case .badEscape: return "'%' must be followed by two hexadecimal digits"
    case .invalidUTF8: return "the decoded bytes are not UTF-8"
    case .nulByte: return "it contains a NUL byte (%00)"
    }
}

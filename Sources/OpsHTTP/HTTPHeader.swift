/// One response header. Names are sent as written; request header names are lowercased on input.
public struct HTTPHeader: Equatable, Sendable {
    public let name: String
    public let value: String

    public init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }

    /// Header values must not break the header block: CR, LF and NUL are replaced by spaces.
    public var sanitizedValue: String {
        if !value.utf8.contains(where: { $0 == 13 || $0 == 10 || $0 == 0 }) { return value }
        // By scalar, not Character: "\r\n" is a single Character in Swift.
        var out = String.UnicodeScalarView()
        for u in value.unicodeScalars { out.append(u == "\r" || u == "\n" || u == "\0" ? " " : u) }
        return String(out)
    }
}

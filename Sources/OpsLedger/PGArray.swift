/// Postgres array literals for `unnest($1::text[], …)` bulk statements: one parameter carries
/// a whole column, so a batch of 500 records is a handful of statements, still fully
/// parameterised (the literal is data, parsed by Postgres' array input, never SQL).
public enum PGArray {
    /// `{"a","b\"c",NULL}`: every element quoted, `"` and `\` escaped.
    public static func literal(_ values: [String?]) -> String {
        var out = "{"
        out.reserveCapacity(values.count * 16)
        for (i, v) in values.enumerated() {
            if i > 0 { out += "," }
            guard let v else { out += "NULL"; continue }
            out += "\""
            for ch in v.unicodeScalars {
                if ch == "\"" || ch == "\\" { out += "\\" }
                out.unicodeScalars.append(ch)
            }
            out += "\""
        }
        return out + "}"
    }

    public static func literal(_ values: [String]) -> String { literal(values.map { Optional($0) }) }
    public static func literal(_ values: [Int64?]) -> String { literal(values.map { $0.map(String.init) }) }
    public static func literal(_ values: [Double?]) -> String { literal(values.map { $0.map { String($0) } }) }
    public static func literal(_ values: [Double]) -> String { literal(values.map { Optional(String($0)) }) }
    public static func literal(_ values: [Bool]) -> String { literal(values.map { Optional($0 ? "t" : "f") }) }
}

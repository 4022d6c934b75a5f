/// Postgres array literals for `unnest($1::text[], …)` bulk statements: one parameter carries
/// a whole column, so a batch of 500 records is a handful of statements, still fully
/// parameterised (the literal is data, parsed by Postgres' array input, never SQL).
public enum PGArray {
    /// `{"a","b\"c",NULL}`: every element quoted, `"` and `\` escaped.
    ///
    /// Built as UTF-8 bytes: a 500-record ingest batch builds about 20 of these (13 columns of
    /// runs, the events' JSON, …), and appending scalar by scalar to a String was half of the
    /// worker's CPU per batch (perf, 1M-run bench). An element without `"` or `\` — nearly all
    /// of them — is copied in one append.
    public static func literal(_ values: [String?]) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(2 + values.count * 8)
        out.append(UInt8(ascii: "{"))
        for (i, v) in values.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            guard var v else { out.append(contentsOf: nullBytes); continue }
            out.append(UInt8(ascii: "\""))
            v.withUTF8 { appendEscaped($0, to: &out) }
            out.append(UInt8(ascii: "\""))
        }
        out.append(UInt8(ascii: "}"))
        return String(decoding: out, as: UTF8.self)
    }

    private static let nullBytes = Array("NULL".utf8)

    private static func appendEscaped(_ bytes: UnsafeBufferPointer<UInt8>, to out: inout [UInt8]) {
        let quote = UInt8(ascii: "\""), backslash = UInt8(ascii: "\\")
        // UTF-8 never uses these two bytes inside a multi-byte sequence, so a byte scan is exact.
        guard bytes.contains(where: { $0 == quote || $0 == backslash }) else {
            out.append(contentsOf: bytes)
            return
        }
        for b in bytes {
            if b == quote || b == backslash { out.append(backslash) }
            out.append(b)
        }
    }

    public static func literal(_ values: [String]) -> String { literal(values.map { Optional($0) }) }
    public static func literal(_ values: [Int64?]) -> String { literal(values.map { $0.map(String.init) }) }
    public static func literal(_ values: [Double?]) -> String { literal(values.map { $0.map { String($0) } }) }
    public static func literal(_ values: [Double]) -> String { literal(values.map { Optional(String($0)) }) }
    public static func literal(_ values: [Bool]) -> String { literal(values.map { Optional($0 ? "t" : "f") }) }
}

/// Percent-decoding for URL paths and query strings. Pure; no allocation beyond the result.
public enum PercentDecoding {
    public enum Failure: Error, Equatable {
        case badEscape      // `%` not followed by two hex digits
        case invalidUTF8    // decoded bytes are not UTF-8
        case nulByte        // %00: never useful, and C libraries and Postgres text reject it
    }

    /// Decodes `%XX` escapes; with `plusAsSpace` (query strings) `+` becomes a space.
    public static func decode(_ input: Substring, plusAsSpace: Bool) throws(Failure) -> String {
        let utf8 = input.utf8
        if !utf8.contains(where: { $0 == UInt8(ascii: "%") || (plusAsSpace && $0 == UInt8(ascii: "+")) }) {
            return String(input)
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(utf8.count)
        var i = utf8.startIndex
        while i != utf8.endIndex {
            let c = utf8[i]
            if c == UInt8(ascii: "%") {
                let h = utf8.index(after: i)
                guard h != utf8.endIndex else { throw .badEscape }
                let l = utf8.index(after: h)
                guard l != utf8.endIndex, let hi = hexValue(utf8[h]), let lo = hexValue(utf8[l]) else {
                    throw .badEscape
                }
                let byte = hi << 4 | lo
                if byte == 0 { throw .nulByte }
                bytes.append(byte)
                i = utf8.index(after: l)
            } else {
                bytes.append(plusAsSpace && c == UInt8(ascii: "+") ? UInt8(ascii: " ") : c)
                i = utf8.index(after: i)
            }
        }
        guard let s = String(validating: bytes, as: UTF8.self) else { throw .invalidUTF8 }
        return s
    }

    @inline(__always)
    static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}

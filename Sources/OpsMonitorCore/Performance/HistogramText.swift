/// Postgres' text form of an integer array (`{0,3,12}`), the way histograms travel to and
/// from ops.api_minutes / ops.api_rollups through libpq's text protocol.
public enum HistogramText {
    public static func format(_ counts: [Int64]) -> String {
        "{" + counts.map(String.init).joined(separator: ",") + "}"
    }

    /// nil for anything but a flat array of non-null integers.
    public static func parse(_ text: String) -> [Int64]? {
        var text = text
        return text.withUTF8 { parse(UnsafeRawBufferPointer($0)) }
    }

    public static func parse(_ bytes: UnsafeRawBufferPointer) -> [Int64]? {
        guard bytes.count >= 2, bytes.first == UInt8(ascii: "{"), bytes.last == UInt8(ascii: "}") else { return nil }
        var out: [Int64] = []
        out.reserveCapacity(LatencyHistogram.bucketCount)
        if bytes.count == 2 { return out }
        var value: Int64 = 0
        var negative = false
        var digits = 0
        for i in 1..<bytes.count {
            let c = bytes[i]
            switch c {
            case 48...57:
                guard digits < 18 else { return nil }
                value = value * 10 + Int64(c - 48)
                digits += 1
            case UInt8(ascii: "-") where digits == 0 && !negative:
                negative = true
            case UInt8(ascii: ","), UInt8(ascii: "}"):
                guard digits > 0 else { return nil }
                out.append(negative ? -value : value)
                value = 0
                digits = 0
                negative = false
                if c == UInt8(ascii: "}") && i != bytes.count - 1 { return nil }
            default:
                return nil
            }
        }
        return out
    }
}

#if canImport(Glibc)
import Glibc
#endif

/// A UTC instant with microsecond precision, parsed from RFC 3339 and printed as ISO 8601
/// with `Z`. Pure arithmetic (no Foundation, no time zone database): every timestamp of every
/// ingested record goes through here.
public struct UTCTime: Comparable, Hashable, Sendable {
    /// Microseconds since 1970-01-01T00:00:00Z.
    public let micros: Int64

    public init(micros: Int64) { self.micros = micros }

    /// The current time from the system clock.
    public static func now() -> UTCTime {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return UTCTime(micros: Int64(ts.tv_sec) * 1_000_000 + Int64(ts.tv_nsec / 1000))
    }
    public init(seconds: Int64) { self.micros = seconds * 1_000_000 }

    public var seconds: Int64 { micros >= 0 ? micros / 1_000_000 : (micros - 999_999) / 1_000_000 }

    public static func < (a: UTCTime, b: UTCTime) -> Bool { a.micros < b.micros }

    public func adding(seconds s: Int64) -> UTCTime { UTCTime(micros: micros + s * 1_000_000) }

    /// Midnight UTC of this instant's day.
    public var startOfDay: UTCTime { UTCTime(seconds: Self.floorDiv(seconds, 86_400) * 86_400) }
    /// The start of this instant's hour.
    public var startOfHour: UTCTime { UTCTime(seconds: Self.floorDiv(seconds, 3_600) * 3_600) }

    /// Why a timestamp was refused.
    public enum ParseError: Error, Equatable {
        case malformed
        case missingOffset
        case outOfRange
    }

    /// Parses `2026-11-22T03:01:00Z`, `2026-11-22T05:01:00.250+02:00`, `2026-11-22 03:01:00z`.
    /// A timestamp without an offset is refused: it would silently mean the server's zone.
    public static func parse(_ text: String) throws(ParseError) -> UTCTime {
        let b = Array(text.utf8)
        guard b.count >= 19 else { throw b.count >= 10 ? .missingOffset : .malformed }
        func digits(_ at: Int, _ n: Int) throws(ParseError) -> Int64 {
            var v: Int64 = 0
            for i in at..<(at + n) {
                guard i < b.count, b[i] >= 48, b[i] <= 57 else { throw .malformed }
                v = v * 10 + Int64(b[i] - 48)
            }
            return v
        }
        let year = try digits(0, 4), month = try digits(5, 2), day = try digits(8, 2)
        guard b[4] == 45, b[7] == 45, b[10] == 84 || b[10] == 116 || b[10] == 32 else { throw .malformed }
        let hour = try digits(11, 2), minute = try digits(14, 2), second = try digits(17, 2)
        guard b[13] == 58, b[16] == 58 else { throw .malformed }
        guard (1...12).contains(month), day >= 1, day <= daysIn(month: month, year: year),
              hour <= 23, minute <= 59, second <= 60 else { throw .outOfRange }
        var i = 19
        var fraction: Int64 = 0
        if i < b.count, b[i] == 46 {  // '.'
            i += 1
            var scale: Int64 = 100_000
            let start = i
            while i < b.count, b[i] >= 48, b[i] <= 57 {
                fraction += Int64(b[i] - 48) * scale
                scale /= 10
                i += 1
            }
            guard i > start else { throw .malformed }
        }
        guard i < b.count else { throw .missingOffset }
        var offsetSeconds: Int64 = 0
        switch b[i] {
        case 90, 122:  // Z z
            i += 1
        case 43, 45:  // + -
            let sign: Int64 = b[i] == 45 ? -1 : 1
            guard b.count == i + 6, b[i + 3] == 58 else { throw .malformed }
            let oh = try digits(i + 1, 2), om = try digits(i + 4, 2)
            guard oh <= 23, om <= 59 else { throw .outOfRange }
            offsetSeconds = sign * (oh * 3600 + om * 60)
            i += 6
        default:
            throw .malformed
        }
        guard i == b.count else { throw .malformed }
        // A leap second (:60) is folded onto the next second.
        let days = daysFromCivil(year: year, month: month, day: day)
        let secs = days * 86_400 + hour * 3600 + minute * 60 + second - offsetSeconds
        return UTCTime(micros: secs * 1_000_000 + fraction)
    }

    /// `2026-11-22T03:01:00Z`, or `…00.120Z` (always three digits) when there are
    /// milliseconds: the form every API answer uses.
    public var iso8601: String { iso8601(fractionDigits: 3) }

    /// Exact to the microsecond (what Postgres stores), for SQL parameters.
    public var iso8601Micros: String { iso8601(fractionDigits: 6) }

    public func iso8601(fractionDigits: Int) -> String {
        let s = seconds
        let (y, m, d) = Self.civilFromDays(Self.floorDiv(s, 86_400))
        let rem = s - Self.floorDiv(s, 86_400) * 86_400
        var frac = micros - s * 1_000_000
        for _ in fractionDigits..<6 { frac /= 10 }
        // Written as bytes: ingest formats three timestamps per run for its array parameters
        // (1,200 a batch), and string interpolation of padded pieces was 2 % of all CPU there.
        guard (0...9999).contains(y) else {
            var out = "\(pad(y, 4))-\(pad(m, 2))-\(pad(d, 2))T\(pad(rem / 3600, 2)):\(pad(rem % 3600 / 60, 2)):\(pad(rem % 60, 2))"
            if frac != 0 { out += "." + pad(frac, fractionDigits) }
            return out + "Z"
        }
        var b: [UInt8] = []
        b.reserveCapacity(28)
        func digits(_ v: Int64, _ width: Int) {
            var div: Int64 = 1
            for _ in 1..<max(width, 1) { div *= 10 }
            var v = v
            while div > 0 { b.append(UInt8(48 + v / div)); v %= div; div /= 10 }
        }
        digits(y, 4); b.append(45); digits(m, 2); b.append(45); digits(d, 2); b.append(84)  // - - T
        digits(rem / 3600, 2); b.append(58); digits(rem % 3600 / 60, 2); b.append(58); digits(rem % 60, 2)  // : :
        if frac != 0 { b.append(46); digits(frac, fractionDigits) }  // .
        b.append(90)  // Z
        return String(decoding: b, as: UTF8.self)
    }

    /// `2026-11-22`
    public var dateString: String {
        let (y, m, d) = Self.civilFromDays(Self.floorDiv(seconds, 86_400))
        return "\(pad(y, 4))-\(pad(m, 2))-\(pad(d, 2))"
    }

    /// `03:00Z` for the hour this instant falls in.
    public var hourLabel: String {
        let rem = seconds - Self.floorDiv(seconds, 86_400) * 86_400
        return "\(pad(rem / 3600, 2)):00Z"
    }

    static func floorDiv(_ a: Int64, _ b: Int64) -> Int64 { a >= 0 ? a / b : -((-a + b - 1) / b) }

    static func isLeap(_ y: Int64) -> Bool { (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 }

    static func daysIn(month: Int64, year: Int64) -> Int64 {
        switch month {
        case 2: return isLeap(year) ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// Howard Hinnant's days_from_civil.
    public static func daysFromCivil(year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = floorDiv(y, 400)
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    public static func civilFromDays(_ z0: Int64) -> (Int64, Int64, Int64) {
        let z = z0 + 719_468
        let era = floorDiv(z, 146_097)
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (m <= 2 ? 1 : 0), m, d)
    }
}

private func pad(_ v: Int64, _ width: Int) -> String {
    let s = String(v)
    return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
}

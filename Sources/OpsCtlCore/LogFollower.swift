import OpsJSON

/// `logs --follow`: each poll asks for the lines since the newest time seen so far (`since` is
/// inclusive, so the lines at that very time come back), and only lines not printed before are
/// printed. A line is known by (ts, message); a line repeated with the same time and text is
/// kept as often as it occurs more often than in the previous answer.
public struct LogFollower: Sendable {
    public struct Key: Hashable, Sendable {
        public var ts: String?
        public var message: String
    }

    /// The `since` of the next poll: the newest `ts` seen (the server's own string).
    public private(set) var cursor: String?
    /// How often each line occurred in the previous answer.
    private var previous: [Key: Int] = [:]
    private var started = false

    public init(cursor: String? = nil) { self.cursor = cursor }

    /// Entries of one answer (oldest first) → those to print now. `gap` tells that the answer
    /// was `full` (as many lines as asked) and none of it overlapped the previous one, so lines
    /// in between may have been missed.
    public mutating func accept(_ entries: [JSON], full: Bool = false) -> (new: [JSON], gap: Bool) {
        var seen = previous
        var counts: [Key: Int] = [:]
        var fresh: [JSON] = []
        var overlap = false
        for e in entries {
            let key = Key(ts: e["ts"]?.stringValue, message: e["message"]?.stringValue ?? "")
            counts[key, default: 0] += 1
            if let n = seen[key], n > 0 {
                seen[key] = n - 1
                overlap = true
            } else {
                fresh.append(e)
            }
            if let ts = key.ts, cursor.map({ LogFollower.order(ts) > LogFollower.order($0) }) ?? true { cursor = ts }
        }
        let gap = full && started && !overlap && !previous.isEmpty
        previous = counts
        started = true
        return (fresh, gap)
    }

    /// A sort key for RFC 3339 UTC times whose fractions differ in length ("…:00Z" must sort
    /// before "…:00.5Z"): the fraction padded to nine digits.
    public static func order(_ ts: String) -> String {
        let chars = Array(ts)
        guard chars.count >= 19 else { return ts }
        var i = 19
        var fraction = ""
        if i < chars.count, chars[i] == "." {
            i += 1
            while i < chars.count, chars[i].isNumber { fraction.append(chars[i]); i += 1 }
        }
        fraction += String(repeating: "0", count: max(0, 9 - fraction.count))
        return String(chars[0..<19]) + "." + fraction + String(chars[i...])
    }
}

/// An HTTP Date header (`Sun, 22 Nov 2026 04:07:00 GMT`, RFC 9110's IMF-fixdate) as RFC 3339
/// UTC, `minusSeconds` earlier; nil when it is not in that form.
public func httpDateToRFC3339(_ header: String, minusSeconds: Int = 0) -> String? {
    let parts = header.split(separator: " ")
    guard parts.count == 6, parts[5] == "GMT", let day = Int(parts[1]), let year = Int(parts[3]) else { return nil }
    let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
    guard let monthIndex = months.firstIndex(of: String(parts[2])) else { return nil }
    let hms = parts[4].split(separator: ":").compactMap { Int($0) }
    guard hms.count == 3, (1...31).contains(day), hms[0] < 24, hms[1] < 60, hms[2] < 61 else { return nil }
    let days = daysFromCivil(year: year, month: monthIndex + 1, day: day)
    var t = days * 86_400 + hms[0] * 3600 + hms[1] * 60 + hms[2] - minusSeconds
    let d = Int((Double(t) / 86_400).rounded(.down))
    t -= d * 86_400
    let (y, m, dd) = civilFromDays(d)
    func two(_ v: Int) -> String { v < 10 ? "0\(v)" : String(v) }
    return "\(y)-\(two(m))-\(two(dd))T\(two(t / 3600)):\(two(t % 3600 / 60)):\(two(t % 60))Z"
}

/// Days since 1970-01-01 (Howard Hinnant's algorithm).
func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
    let y = month <= 2 ? year - 1 : year
    let era = (y >= 0 ? y : y - 399) / 400
    let yoe = y - era * 400
    let doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
    return era * 146_097 + doe - 719_468
}

func civilFromDays(_ z0: Int) -> (Int, Int, Int) {
    let z = z0 + 719_468
    let era = (z >= 0 ? z : z - 146_096) / 146_097
    let doe = z - era * 146_097
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
    let mp = (5 * doy + 2) / 153
    let d = doy - (153 * mp + 2) / 5 + 1
    let m = mp + (mp < 10 ? 3 : -9)
    return (yoe + era * 400 + (m <= 2 ? 1 : 0), m, d)
}

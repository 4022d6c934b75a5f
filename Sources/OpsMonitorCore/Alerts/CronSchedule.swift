/// A five-field cron expression (`minute hour day-of-month month day-of-week`), always in UTC:
/// `*`, lists (`1,15`), ranges (`1-5`), steps (`*/15`, `0-30/10`, `5/20`), month and weekday
/// names (`JAN`, `MON`), 0 or 7 for Sunday, and the macros @hourly, @daily, @midnight,
/// @weekly, @monthly, @yearly, @annually. As in Vixie cron, when both day fields are
/// restricted a day matches either of them.
public struct CronSchedule: Sendable, Equatable {
    public let expression: String
    let minutes: Set<Int>
    let hours: Set<Int>
    let daysOfMonth: Set<Int>
    let months: Set<Int>
    let daysOfWeek: Set<Int>
    let domRestricted: Bool
    let dowRestricted: Bool

    public struct ParseError: Error, Equatable, CustomStringConvertible {
        public let message: String
        public var description: String { message }
    }

    static let macros = ["@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *",
                         "@weekly": "0 0 * * 0", "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *"]
    static let monthNames = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
    static let dayNames = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]

    public init(_ text: String) throws(ParseError) {
        let trimmed = text.trimmingWhitespace()
        let expanded = Self.macros[trimmed.lowercased()] ?? trimmed
        let parts = expanded.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        guard parts.count == 5 else {
            throw ParseError(message: "\"\(text)\" has \(parts.count) fields; expected 5 (minute hour day-of-month month day-of-week)")
        }
        expression = trimmed
        minutes = try Self.field(parts[0], "minute", 0...59, names: [])
        hours = try Self.field(parts[1], "hour", 0...23, names: [])
        daysOfMonth = try Self.field(parts[2], "day-of-month", 1...31, names: [])
        months = try Self.field(parts[3], "month", 1...12, names: Self.monthNames, nameBase: 1)
        // 7 is Sunday too.
        daysOfWeek = Set(try Self.field(parts[4], "day-of-week", 0...7, names: Self.dayNames).map { $0 % 7 })
        domRestricted = !parts[2].hasPrefix("*")
        dowRestricted = !parts[4].hasPrefix("*")
        // 2000-01-01: any schedule that can fire does so within 28 years (the leap-day/weekday cycle).
        guard next(after: 946_684_800) != nil else {
            throw ParseError(message: "\"\(text)\" never fires")
        }
    }

    static func field(_ text: String, _ name: String, _ range: ClosedRange<Int>, names: [String],
                      nameBase: Int = 0) throws(ParseError) -> Set<Int> {
        var out = Set<Int>()
        for item in text.split(separator: ",", omittingEmptySubsequences: false).map(String.init) {
            guard !item.isEmpty else { throw ParseError(message: "\(name) field \"\(text)\" has an empty list item") }
            let stepParts = item.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
            guard stepParts.count <= 2 else { throw ParseError(message: "\(name) field: \"\(item)\" has more than one /") }
            var step = 1
            if stepParts.count == 2 {
                guard let s = Int(stepParts[1]), s >= 1, s <= range.upperBound + 1 else {
                    throw ParseError(message: "\(name) field: step \"\(stepParts[1])\" must be an integer from 1 to \(range.upperBound + 1)")
                }
                step = s
            }
            let base = stepParts[0]
            var lo: Int, hi: Int
            if base == "*" {
                lo = range.lowerBound; hi = range.upperBound
            } else if let dash = base.firstIndex(of: "-") {
                lo = try value(String(base[..<dash]), name, range, names, nameBase)
                hi = try value(String(base[base.index(after: dash)...]), name, range, names, nameBase)
                guard lo <= hi else { throw ParseError(message: "\(name) field: range \"\(base)\" runs backwards") }
            } else {
                lo = try value(base, name, range, names, nameBase)
                // "5/20" means from 5 to the end in steps of 20.
                hi = stepParts.count == 2 ? range.upperBound : lo
            }
            var v = lo
            while v <= hi { out.insert(v); v += step }
        }
        return out
    }

    static func value(_ text: String, _ name: String, _ range: ClosedRange<Int>, _ names: [String], _ nameBase: Int) throws(ParseError) -> Int {
        if let v = Int(text) {
            guard range.contains(v) else { throw ParseError(message: "\(name) field: \(v) is outside \(range.lowerBound)-\(range.upperBound)") }
            return v
        }
        if let i = names.firstIndex(of: text.uppercased()) { return i + nameBase }
        throw ParseError(message: "\(name) field: \"\(text)\" is not a number\(names.isEmpty ? "" : " or a name like \(names[0])")")
    }

    /// The first minute strictly after `seconds` (Unix time, UTC) at which the schedule fires.
    public func next(after seconds: Int64) -> Int64? {
        var t = (Self.floorDiv(seconds, 60) + 1) * 60
        let limit = seconds + 29 * 366 * 86_400
        while t <= limit {
            let days = Self.floorDiv(t, 86_400)
            let (y, m, d) = Self.civil(days)
            let secOfDay = t - days * 86_400
            if !months.contains(Int(m)) {
                let (ny, nm) = m == 12 ? (y + 1, Int64(1)) : (y, m + 1)
                t = Self.days(ny, nm, 1) * 86_400
                continue
            }
            if !dayMatches(day: Int(d), weekday: Int(Self.floorMod(days + 4, 7))) {
                t = (days + 1) * 86_400
                continue
            }
            let hour = Int(secOfDay / 3600)
            if !hours.contains(hour) {
                t = days * 86_400 + Int64(hour + 1) * 3600
                continue
            }
            let minute = Int(secOfDay % 3600 / 60)
            if !minutes.contains(minute) {
                t += 60
                continue
            }
            return t
        }
        return nil
    }

    func dayMatches(day: Int, weekday: Int) -> Bool {
        let dom = daysOfMonth.contains(day), dow = daysOfWeek.contains(weekday)
        if domRestricted && dowRestricted { return dom || dow }
        return dom && dow
    }

    // Howard Hinnant's civil-date algorithms (no time zone database: UTC only).
    static func floorDiv(_ a: Int64, _ b: Int64) -> Int64 { a >= 0 ? a / b : -((-a + b - 1) / b) }
    static func floorMod(_ a: Int64, _ b: Int64) -> Int64 { a - floorDiv(a, b) * b }

    static func days(_ year: Int64, _ month: Int64, _ day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = floorDiv(y, 400)
        let yoe = y - era * 400
        let doy = (153 * ((month + 9) % 12) + 2) / 5 + day - 1
        return era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468
    }

    static func civil(_ z0: Int64) -> (Int64, Int64, Int64) {
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

fileprivate extension String {
    func trimmingWhitespace() -> String {
        var s = Substring(self)
        while let f = s.first, f.isWhitespace { s.removeFirst() }
        while let l = s.last, l.isWhitespace { s.removeLast() }
        return String(s)
    }
}

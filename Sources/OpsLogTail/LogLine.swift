import OpsActivity
import OpsJSON

/// One log line read as an entry: its time normalised to UTC (nil when the line has none
/// that we know), a level and the message.
public struct LogEntry: Equatable, Sendable {
    public var ts: UTCTime?
    public var level: LogLevelName
    public var message: String
}

/// Levels, lowest first; `level=warn` keeps warn and error.
public enum LogLevelName: String, CaseIterable, Comparable, Sendable {
    case debug, info, warn, error
    public static func < (a: Self, b: Self) -> Bool { a.rank < b.rank }
    var rank: Int { Self.allCases.firstIndex(of: self)! }
}

/// The formats whose timestamps and levels we know. `auto` tries them in order.
public enum LogFormat: String, CaseIterable, Sendable {
    case auto, json, nginxAccess = "nginx_access", nginxError = "nginx_error", postgres, redis, syslog, plain
}

/// Parsing of single lines, without I/O. Each recogniser returns nil when the line is not in
/// its format, so `auto` can try the next one.
public enum LogLineParser {
    /// `year` fills in syslog's year-less stamps (the year it was read, one less when that
    /// would put the line in the future).
    public static func parse(_ line: String, format: LogFormat, now: UTCTime) -> LogEntry {
        switch format {
        case .json: return json(line) ?? fallback(line)
        case .nginxAccess: return nginxAccess(line) ?? json(line) ?? fallback(line)
        case .nginxError: return nginxError(line) ?? fallback(line)
        case .postgres: return postgres(line) ?? fallback(line)
        case .redis: return redis(line) ?? fallback(line)
        case .syslog: return syslog(line, now: now) ?? fallback(line)
        case .plain: return fallback(line)
        case .auto:
            return json(line) ?? nginxError(line) ?? postgres(line) ?? nginxAccess(line) ?? redis(line)
                ?? syslog(line, now: now) ?? fallback(line)
        }
    }

    // MARK: formats

    /// Our JSON lines (`{"ts","level","msg"}`), nginx's JSON access lines (`{"ts","status",…}`)
    /// and other JSON logs with common key names.
    static func json(_ line: String) -> LogEntry? {
        guard line.first == "{", let object = (try? JSON.parse(line))?.objectValue else { return nil }
        let tsText = (object["ts"] ?? object["time"] ?? object["timestamp"] ?? object["@timestamp"])?.stringValue
        var ts = tsText.flatMap { try? UTCTime.parse($0) }
        // nginx's $time_iso8601 has whole seconds; $msec (our access-log format has it) has ms.
        if let msec = object["msec"]?.doubleValue, msec > 0 { ts = UTCTime(micros: Int64((msec * 1000).rounded()) * 1000) }
        var level = (object["level"] ?? object["severity"] ?? object["lvl"])?.stringValue.flatMap(levelName)
        if level == nil, let status = object["status"]?.intValue {
            level = status >= 500 ? .error : status >= 400 ? .warn : .info
        }
        var message = (object["msg"] ?? object["message"])?.stringValue
        if message == nil, let method = object["method"]?.stringValue, let uri = object["uri"]?.stringValue {
            let status = object["status"]?.intValue.map { String($0) } ?? "-"
            let time = object["request_time"]?.doubleValue.map { " \($0)s" } ?? ""
            message = "\(method) \(uri) \(status)\(time)"
        }
        return LogEntry(ts: ts, level: level ?? .info, message: message ?? line)
    }

    /// `127.0.0.1 - - [22/Nov/2026:03:45:02 +0000] "GET / HTTP/1.1" 200 612 "-" "curl/8"`
    static func nginxAccess(_ line: String) -> LogEntry? {
        let b = Array(line.utf8)
        guard let open = b.firstIndex(of: UInt8(ascii: "[")), let close = b[open...].firstIndex(of: UInt8(ascii: "]")),
              close - open == 27 else { return nil }
        // dd/Mon/yyyy:HH:MM:SS +zzzz
        let s = Array(b[(open + 1)..<close])
        guard let day = number(s, 0, 2), let month = monthNumber(s, 3), let year = number(s, 7, 4),
              let h = number(s, 12, 2), let m = number(s, 15, 2), let sec = number(s, 18, 2),
              s[2] == 47, s[6] == 47, s[11] == 58, s[20] == 32,
              let offH = number(s, 22, 2), let offM = number(s, 24, 2), s[21] == 43 || s[21] == 45 else { return nil }
        var secs = UTCTime.daysFromCivil(year: year, month: month, day: day) * 86_400 + h * 3600 + m * 60 + sec
        secs -= (s[21] == 45 ? -1 : 1) * (offH * 3600 + offM * 60)
        // The status follows the quoted request line.
        var level = LogLevelName.info
        if let q1 = b[(close + 1)...].firstIndex(of: 34), let q2 = b[(q1 + 1)...].firstIndex(of: 34),
           let status = number(Array(b), q2 + 2, 3) {
            level = status >= 500 ? .error : status >= 400 ? .warn : .info
        }
        return LogEntry(ts: UTCTime(seconds: secs), level: level, message: line)
    }

    /// `2026/11/22 03:45:02 [error] 1234#0: *1 connect() failed …` (nginx writes local time;
    /// Opsplane runs nginx with TZ=UTC).
    static func nginxError(_ line: String) -> LogEntry? {
        let b = Array(line.utf8)
        guard b.count > 21, b[4] == 47, b[7] == 47, b[10] == 32, b[13] == 58, b[16] == 58, b[19] == 32, b[20] == 91,
              let ts = civil(b, dateSeparator: 47), let close = b[20...].firstIndex(of: 93) else { return nil }
        let word = String(decoding: b[21..<close], as: UTF8.self)
        let level: LogLevelName
        switch word {
        case "debug": level = .debug
        case "info", "notice": level = .info
        case "warn": level = .warn
        default: level = .error   // error, crit, alert, emerg
        }
        let message = close + 2 < b.count ? String(decoding: b[(close + 2)...], as: UTF8.self) : ""
        return LogEntry(ts: ts, level: level, message: message)
    }

    /// `2026-11-22 03:45:02.123 UTC [1234] LOG:  message` (Postgres' default log_line_prefix
    /// `%m [%p] `), also with other zones written as +hh / -hh offsets.
    static func postgres(_ line: String) -> LogEntry? {
        let b = Array(line.utf8)
        guard b.count > 24, b[4] == 45, b[7] == 45, b[10] == 32, b[13] == 58, b[16] == 58,
              var ts = civil(b, dateSeparator: 45) else { return nil }
        var i = 19
        if i < b.count, b[i] == 46 {   // .mmm
            var frac: Int64 = 0, scale: Int64 = 100_000
            i += 1
            while i < b.count, b[i] >= 48, b[i] <= 57 { frac += Int64(b[i] - 48) * scale; scale /= 10; i += 1 }
            ts = UTCTime(micros: ts.micros + frac)
        }
        guard i < b.count, b[i] == 32 else { return nil }
        i += 1
        // The zone: UTC/GMT, or +hh[:mm]/-hh[:mm]; other names are taken as UTC.
        let zoneEnd = b[i...].firstIndex(of: 32) ?? b.count
        let zone = String(decoding: b[i..<zoneEnd], as: UTF8.self)
        if let sign = zone.first, sign == "+" || sign == "-" {
            let digits = zone.dropFirst().split(separator: ":")
            let oh = Int64(digits.first ?? "0") ?? 0, om = Int64(digits.dropFirst().first ?? "0") ?? 0
            ts = UTCTime(micros: ts.micros - (sign == "-" ? -1 : 1) * (oh * 3600 + om * 60) * 1_000_000)
        }
        let rest = zoneEnd < b.count ? String(decoding: b[(zoneEnd + 1)...], as: UTF8.self) : ""
        // Skip "[pid] " and read "LEVEL:  message".
        var body = Substring(rest)
        if body.first == "[", let close = body.firstIndex(of: "]") { body = body[body.index(after: close)...].drop(while: { $0 == " " }) }
        // `%q%u@%d ` (user@database) in the prefix of session lines.
        if let space = body.firstIndex(of: " "), body[..<space].contains("@"), !body[..<space].hasSuffix(":") {
            body = body[space...].drop(while: { $0 == " " })
        }
        var level = LogLevelName.info
        if let colon = body.firstIndex(of: ":") {
            switch body[..<colon] {
            case "ERROR", "FATAL", "PANIC": level = .error
            case "WARNING": level = .warn
            case let w where w.hasPrefix("DEBUG"): level = .debug
            default: level = .info   // LOG, INFO, NOTICE, DETAIL, STATEMENT, HINT, CONTEXT
            }
        }
        return LogEntry(ts: ts, level: level, message: String(body))
    }

    /// `12104:M 22 Nov 2026 03:50:06.151 # message` (Redis: `#` warning, `*` notice, `-`
    /// verbose, `.` debug).
    static func redis(_ line: String) -> LogEntry? {
        guard let colon = line.firstIndex(of: ":"), line[..<colon].allSatisfy(\.isNumber) else { return nil }
        let b = Array(line[line.index(colon, offsetBy: 3)...].utf8)   // after "pid:M "
        guard b.count > 26, let day = number(b, 0, 2), b[2] == 32, let month = monthNumber(b, 3), b[6] == 32,
              let year = number(b, 7, 4), b[11] == 32, let h = number(b, 12, 2), let m = number(b, 15, 2),
              let s = number(b, 18, 2), b[20] == 46, let ms = number(b, 21, 3), b[24] == 32 else { return nil }
        let secs = UTCTime.daysFromCivil(year: year, month: month, day: day) * 86_400 + h * 3600 + m * 60 + s
        let level: LogLevelName
        switch b[25] {
        case UInt8(ascii: "#"): level = .warn
        case UInt8(ascii: "."): level = .debug
        default: level = .info
        }
        let message = b.count > 27 ? String(decoding: b[27...], as: UTF8.self) : ""
        return LogEntry(ts: UTCTime(micros: secs * 1_000_000 + ms * 1000), level: level, message: message)
    }

    /// RFC 3164 (`Nov 22 03:45:02 host prog[12]: msg`), RFC 5424 (`<34>1 2026-11-22T03:45:02.003Z host …`)
    /// and rsyslog's high-precision form (`2026-11-22T03:45:02.123456+00:00 host prog: msg`).
    static func syslog(_ line: String, now: UTCTime) -> LogEntry? {
        var text = Substring(line)
        if text.first == "<", let close = text.firstIndex(of: ">") {
            text = text[text.index(after: close)...]
            if text.hasPrefix("1 ") { text = text.dropFirst(2) }
        }
        if let space = text.firstIndex(of: " "), let ts = try? UTCTime.parse(String(text[..<space])) {
            let message = String(text[text.index(after: space)...])
            return LogEntry(ts: ts, level: guessLevel(message), message: message)
        }
        let b = Array(text.utf8)
        guard b.count > 16, let month = monthNumber(b, 0), b[3] == 32, b[9] == 58, b[12] == 58, b[15] == 32 else { return nil }
        let dayText = String(decoding: b[4..<6], as: UTF8.self).trimmingCharacters(in: " ")
        guard let day = Int64(dayText), let h = number(b, 7, 2), let m = number(b, 10, 2), let s = number(b, 13, 2) else { return nil }
        let thisYear = Int64(now.dateString.prefix(4))!
        var secs = UTCTime.daysFromCivil(year: thisYear, month: month, day: day) * 86_400 + h * 3600 + m * 60 + s
        if secs > now.seconds + 86_400 {   // December's lines read in January
            secs = UTCTime.daysFromCivil(year: thisYear - 1, month: month, day: day) * 86_400 + h * 3600 + m * 60 + s
        }
        let message = String(decoding: b[16...], as: UTF8.self)
        return LogEntry(ts: UTCTime(seconds: secs), level: guessLevel(message), message: message)
    }

    static func fallback(_ line: String) -> LogEntry {
        LogEntry(ts: nil, level: guessLevel(line), message: line)
    }

    // MARK: helpers

    static func levelName(_ s: String) -> LogLevelName? {
        switch s.lowercased() {
        case "trace", "debug", "dbg": return .debug
        case "info", "notice", "information", "log": return .info
        case "warn", "warning": return .warn
        case "error", "err", "fatal", "crit", "critical", "alert", "emerg", "panic": return .error
        default: return nil
        }
    }

    /// For lines that carry no level field: the first level word they contain.
    static func guessLevel(_ text: String) -> LogLevelName {
        let lower = text.prefix(200).lowercased()
        if lower.contains("error") || lower.contains("fatal") || lower.contains("panic") || lower.contains("crit") { return .error }
        if lower.contains("warn") { return .warn }
        if lower.contains("debug") { return .debug }
        return .info
    }

    static func number(_ b: [UInt8], _ at: Int, _ n: Int) -> Int64? {
        guard at >= 0, at + n <= b.count else { return nil }
        var v: Int64 = 0
        for i in at..<(at + n) {
            guard b[i] >= 48, b[i] <= 57 else { return nil }
            v = v * 10 + Int64(b[i] - 48)
        }
        return v
    }

    static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    static func monthNumber(_ b: [UInt8], _ at: Int) -> Int64? {
        guard at + 3 <= b.count else { return nil }
        let name = String(decoding: b[at..<(at + 3)], as: UTF8.self)
        return months.firstIndex(of: name).map { Int64($0 + 1) }
    }

    /// `yyyy?mm?dd HH:MM:SS` at the start of `b`, `?` being `dateSeparator`.
    static func civil(_ b: [UInt8], dateSeparator: UInt8) -> UTCTime? {
        guard b.count >= 19, b[4] == dateSeparator, b[7] == dateSeparator,
              let y = number(b, 0, 4), let mo = number(b, 5, 2), let d = number(b, 8, 2),
              let h = number(b, 11, 2), let mi = number(b, 14, 2), let s = number(b, 17, 2),
              (1...12).contains(mo), (1...31).contains(d), h < 24, mi < 60, s <= 60 else { return nil }
        return UTCTime(seconds: UTCTime.daysFromCivil(year: y, month: mo, day: d) * 86_400 + h * 3600 + mi * 60 + s)
    }
}

extension String {
    func trimmingCharacters(in set: Character) -> String {
        var s = Substring(self)
        while s.first == set { s = s.dropFirst() }
        while s.last == set { s = s.dropLast() }
        return String(s)
    }
}

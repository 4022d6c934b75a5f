import OpsActivity

/// Pure rules behind the monitoring routes (no I/O), so they are unit-tested on their own:
/// the accepted time ranges, how service statuses combine, how pushed heartbeat statuses
/// read, how secrets are cut out of probe targets, and counter arithmetic.

/// `range=1h|6h|24h|7d` of the monitoring routes.
public enum MonitoringRange: String, CaseIterable, Sendable {
    case h1 = "1h", h6 = "6h", h24 = "24h", d7 = "7d"

    public var seconds: Int64 {
        switch self {
        case .h1: return 3_600
        case .h6: return 6 * 3_600
        case .h24: return 24 * 3_600
        case .d7: return 7 * 24 * 3_600
        }
    }

    /// 1h and 6h read raw probe samples (at most a few thousand per service); 24h and 7d read
    /// hourly rollups so a week costs 168 rows per service.
    public var usesHourlyRollups: Bool { self == .h24 || self == .d7 }
}

/// healthy | degraded | down | unknown, as stored in ops.service_status.
public enum ServiceHealth: String, CaseIterable, Sendable {
    case healthy, degraded, down, unknown

    /// Reads a stored status; anything else (a newer writer's word) counts as unknown.
    public init(stored: String?) {
        self = stored.flatMap(ServiceHealth.init(rawValue:)) ?? .unknown
    }

    /// The overall status of a set of services: the worst known one (down > degraded >
    /// healthy). Services without a status yet do not make the whole healthy: when no service
    /// has a known status (or there is none), the answer is unknown.
    public static func overall<S: Sequence>(_ statuses: S) -> ServiceHealth where S.Element == ServiceHealth {
        var worst: ServiceHealth?
        for s in statuses where s != .unknown {
            if worst == nil || s.severity > worst!.severity { worst = s }
        }
        return worst ?? .unknown
    }

    var severity: Int {
        switch self {
        case .unknown: return -1
        case .healthy: return 0
        case .degraded: return 1
        case .down: return 2
        }
    }
}

/// Heartbeats carry a free-text status from the component that pushed it.
public enum HeartbeatHealth {
    /// A component that has not pushed for this long counts as down (three missed 30 s beats).
    public static let staleAfterSeconds: Double = 90

    /// healthy/ok/up/running/idle → healthy; degraded/warning/warn/slow → degraded; a stale
    /// heartbeat, and any other word (down, error, failed, …), → down.
    public static func status(pushed: String?, ageSeconds: Double?) -> ServiceHealth {
        guard let age = ageSeconds, age <= staleAfterSeconds else { return .down }
        switch (pushed ?? "").lowercased() {
        case "healthy", "ok", "up", "running", "idle", "ready": return .healthy
        case "degraded", "warning", "warn", "slow", "busy": return .degraded
        default: return .down
        }
    }

    /// All healthy → healthy, all down → down, a mix → degraded; no component → unknown.
    public static func combined(_ statuses: [ServiceHealth]) -> ServiceHealth {
        guard !statuses.isEmpty else { return .unknown }
        if statuses.allSatisfy({ $0 == .healthy }) { return .healthy }
        if statuses.allSatisfy({ $0 == .down }) { return .down }
        return .degraded
    }
}

/// Probe targets can hold credentials (a Postgres URL with its password, a token in a
/// query string). The API shows them with every secret replaced by `***`.
public enum TargetRedaction {
    static let secretKeys: Set<String> = ["password", "pass", "passwd", "pwd", "secret", "token", "access_token",
                                          "api_key", "apikey", "key", "auth", "sslpassword", "signature", "sig"]

    public static func redact(_ target: String) -> String {
        if let afterScheme = schemeEnd(target) {
            return redactURL(target, afterScheme: afterScheme)
        }
        return redactConnInfo(target)
    }

    /// The index after `scheme://` when the text starts with a URL scheme.
    static func schemeEnd(_ s: String) -> String.Index? {
        guard let colon = s.firstIndex(of: ":"), colon > s.startIndex,
              s[..<colon].allSatisfy({ $0.isLetter || $0.isNumber || $0 == "+" || $0 == "-" || $0 == "." }),
              s[colon...].hasPrefix("://") else { return nil }
        return s.index(colon, offsetBy: 3)
    }

    /// `scheme://user:secret@host/path?password=x` → `scheme://user:***@host/path?password=***`;
    /// a lone user part without a password (`redis://secret@host`) is hidden too, since
    /// some clients take the password there.
    static func redactURL(_ s: String, afterScheme: String.Index) -> String {
        var head = String(s[..<afterScheme])
        var rest = Substring(s[afterScheme...])
        let authorityEnd = rest.firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" }) ?? rest.endIndex
        let authority = rest[..<authorityEnd]
        if let at = authority.lastIndex(of: "@") {
            let userinfo = authority[..<at]
            if let colon = userinfo.firstIndex(of: ":") {
                head += userinfo[..<colon] + ":***"
            } else {
                head += "***"
            }
            head += authority[at...]
        } else {
            head += authority
        }
        rest = rest[authorityEnd...]
        guard let q = rest.firstIndex(of: "?") else { return head + rest }
        let path = rest[..<q]
        let afterQ = rest[rest.index(after: q)...]
        let fragmentStart = afterQ.firstIndex(of: "#") ?? afterQ.endIndex
        let query = afterQ[..<fragmentStart].split(separator: "&", omittingEmptySubsequences: false).map { pair -> String in
            guard let eq = pair.firstIndex(of: "=") else { return String(pair) }
            let name = pair[..<eq].lowercased()
            return secretKeys.contains(name) ? pair[..<eq] + "=***" : String(pair)
        }.joined(separator: "&")
        return head + path + "?" + query + afterQ[fragmentStart...]
    }

    /// libpq key/value form: `host=db password='x y' user=ops` → `… password=*** …`.
    static func redactConnInfo(_ s: String) -> String {
        guard s.contains("=") else { return s }
        var out = ""
        var i = s.startIndex
        while i < s.endIndex {
            // Copy whitespace, then read `key = value`.
            if s[i].isWhitespace { out.append(s[i]); i = s.index(after: i); continue }
            var keyEnd = i
            while keyEnd < s.endIndex, s[keyEnd] != "=", !s[keyEnd].isWhitespace { keyEnd = s.index(after: keyEnd) }
            let key = s[i..<keyEnd]
            var j = keyEnd
            while j < s.endIndex, s[j].isWhitespace { j = s.index(after: j) }
            guard j < s.endIndex, s[j] == "=" else { out += s[i..<j]; i = j; continue }
            j = s.index(after: j)
            while j < s.endIndex, s[j].isWhitespace { j = s.index(after: j) }
            let valueStart = j
            if j < s.endIndex, s[j] == "'" {
                j = s.index(after: j)
                while j < s.endIndex, s[j] != "'" {
                    if s[j] == "\\" { j = s.index(after: j); if j == s.endIndex { break } }
                    j = s.index(after: j)
                }
                if j < s.endIndex { j = s.index(after: j) }
            } else {
                while j < s.endIndex, !s[j].isWhitespace { j = s.index(after: j) }
            }
            out += key + "="
            out += secretKeys.contains(key.lowercased()) ? "***" : String(s[valueStart..<j])
            i = j
        }
        return out
    }
}

/// Monotonic counters sampled at two times (Redis' evicted_keys, …).
public enum CounterRate {
    /// Increase per second from `older` to `newer`. A counter that went down was reset (the
    /// server restarted): the newer value is then the increase since the restart, which is
    /// at most what happened in the interval. nil without two samples at distinct times.
    public static func perSecond(newer: (value: Int64, at: UTCTime), older: (value: Int64, at: UTCTime)) -> Double? {
        let seconds = Double(newer.at.micros - older.at.micros) / 1e6
        guard seconds > 0 else { return nil }
        let increase = newer.value >= older.value ? newer.value - older.value : newer.value
        return Double(increase) / seconds
    }
}

/// Postgres' text form of a one-dimensional integer array, `{1,2,NULL,3}` (NULL reads 0).
public enum PGIntArray {
    public static func parse(_ text: String) -> [Int64]? {
        guard text.hasPrefix("{"), text.hasSuffix("}") else { return nil }
        let inner = text.dropFirst().dropLast()
        if inner.isEmpty { return [] }
        var out: [Int64] = []
        for part in inner.split(separator: ",", omittingEmptySubsequences: false) {
            if part == "NULL" { out.append(0); continue }
            guard let v = Int64(part) else { return nil }
            out.append(v)
        }
        return out
    }
}

/// Rounding for answers: no float noise in the JSON.
public enum Rounded {
    public static func to(_ digits: Int, _ v: Double) -> Double {
        var scale = 1.0
        for _ in 0..<digits { scale *= 10 }
        return (v * scale).rounded() / scale
    }
    public static func mb(_ bytes: Double) -> Double { to(2, bytes / 1_048_576) }
    public static func gb(_ bytes: Double) -> Double { to(2, bytes / 1_073_741_824) }
    /// part/whole as a percentage with two decimals; nil when whole is 0.
    public static func percent(_ part: Double, of whole: Double) -> Double? {
        whole > 0 ? to(2, part / whole * 100) : nil
    }
}

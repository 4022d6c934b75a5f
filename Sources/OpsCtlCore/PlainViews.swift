import OpsJSON

/// `--plain`: the compact human view of each command's answer. Every view degrades instead of
/// failing when a field is missing or has another type (an older or newer server): the cell
/// shows `-`.
public enum PlainViews {
    // MARK: values

    /// A JSON value as a cell: null/missing `-`, numbers without needless digits, arrays of
    /// scalars joined by ", ", objects as compact JSON.
    public static func text(_ value: JSON?) -> String {
        guard let value else { return "-" }
        switch value {
        case .null: return "-"
        case .bool(let b): return b ? "yes" : "no"
        case .int(let i): return String(i)
        case .double(let d): return number(d)
        case .string(let s): return s.isEmpty ? "-" : s
        case .array(let a):
            if a.isEmpty { return "-" }
            if a.allSatisfy({ $0.objectValue == nil && $0.arrayValue == nil }) { return a.map { text($0) }.joined(separator: ", ") }
            return value.serialized()
        case .object: return value.serialized()
        }
    }

    /// A number with at most 6 decimals and no trailing zeros, never in exponent notation.
    public static func number(_ d: Double) -> String {
        guard d.isFinite else { return d.isNaN ? "NaN" : (d > 0 ? "inf" : "-inf") }
        if d == d.rounded(), abs(d) < 1e15 { return String(Int64(d)) }
        let negative = d < 0
        let scaled = (abs(d) * 1_000_000).rounded()
        guard scaled < 9e18 else { return String(d) }
        let whole = Int64(scaled) / 1_000_000
        var frac = String(Int64(scaled) % 1_000_000)
        frac = String(repeating: "0", count: 6 - frac.count) + frac
        while frac.last == "0" { frac.removeLast() }
        let body = frac.isEmpty ? String(whole) : "\(whole).\(frac)"
        return (negative && body != "0" ? "-" : "") + body
    }

    static func usd(_ value: JSON?) -> String {
        guard let d = value?.doubleValue else { return value == nil || value == .null ? "unknown" : text(value) }
        return "$" + number(d)
    }

    static func ms(_ value: JSON?) -> String {
        guard let d = value?.doubleValue else { return "-" }
        return number(d) + " ms"
    }

    static func budget(_ value: JSON?) -> String {
        guard let b = value?.objectValue else { return "-" }
        var s = ""
        if let user = b["user_id"]?.stringValue { s += user + ": " }
        s += usd(b["used_usd"]) + " used"
        if let cents = b["limit_cents"]?.intValue, cents > 0 {
            s += " of $" + number(Double(cents) / 100)
            if let p = b["percent"]?.doubleValue { s += " (" + number((p * 10).rounded() / 10) + " %)" }
        } else {
            s += ", no limit"
        }
        return s
    }

    /// The list in an answer: the answer itself when it is an array, else the member `key`,
    /// else the first array-valued member.
    static func list(_ answer: JSON, _ keys: [String] = []) -> [JSON] {
        if let a = answer.arrayValue { return a }
        guard let o = answer.objectValue else { return [] }
        for k in keys { if let a = o[k]?.arrayValue { return a } }
        for (_, v) in o.entries { if let a = v.arrayValue { return a } }
        return []
    }

    /// A column of an object table: header, the value of a row, right-aligned or not.
    public struct Column {
        public var header: String
        public var right: Bool
        public var cell: (JSONObject) -> String
        public init(_ header: String, right: Bool = false, _ cell: @escaping (JSONObject) -> String) {
            self.header = header
            self.right = right
            self.cell = cell
        }
        public static func field(_ header: String, _ key: String, right: Bool = false) -> Column {
            Column(header, right: right) { text($0[key]) }
        }
    }

    public static func table(_ rows: [JSON], _ columns: [Column]) -> PlainTable {
        var t = PlainTable(headers: columns.map(\.header),
                           rightAligned: Set(columns.enumerated().filter { $0.element.right }.map(\.offset)))
        for row in rows {
            let o = row.objectValue ?? JSONObject()
            t.add(columns.map { $0.cell(o) })
        }
        return t
    }

    // MARK: commands

    public static func summary(_ answer: JSON) -> String {
        let o = answer.objectValue ?? JSONObject()
        var kv = KeyValueBlock()
        kv.add("runs today", text(o["runs_today"]))
        kv.add("cost today", usd(o["cost_today_usd"]))
        kv.add("active users 24h", text(o["active_users_24h"]))
        var agents = text(o["agents_total"])
        if let s = o["agents_scheduled"], s != .null { agents += " (\(text(s)) scheduled)" }
        kv.add("agents", agents)
        let latency = o["latency_ms"]?.objectValue
        kv.add("latency p50 / p95", "\(ms(latency?["p50"])) / \(ms(latency?["p95"]))")
        kv.add("errors last hour", text(o["errors_last_hour"]))
        kv.add("budget per user", budget(o["budget_user"]))
        kv.add("budget global", budget(o["budget_global"]))
        if let g = o["generated_at"] { kv.add("generated at", text(g)) }
        var out = kv.render()
        let top = o["top_agents_today"]?.arrayValue ?? []
        out += "\ntop agents today\n"
        out += top.isEmpty ? "(none)\n" : table(top, agentColumns).render()
        return out
    }

    static let agentColumns: [Column] = [
        .field("AGENT", "agent_id"), .field("NAME", "name"), .field("OWNER", "owner_email"),
        .field("RUNS", "runs", right: true), Column("COST_USD", right: true) { text($0["cost_usd"]) },
        .field("P95_MS", "p95_ms", right: true),
    ]

    public static func top(_ answer: JSON, kind: String) -> String {
        let rows = list(answer, ["items", kind])
        let columns: [Column]
        switch kind {
        case "users":
            columns = [.field("USER", "user_id"), .field("RUNS", "runs", right: true), .field("COST_USD", "cost_usd", right: true)]
        case "models":
            columns = [.field("PROVIDER", "provider"), .field("MODEL", "model"), .field("CALLS", "calls", right: true),
                       .field("PROMPT_TOKENS", "prompt_tokens", right: true),
                       .field("COMPLETION_TOKENS", "completion_tokens", right: true), .field("COST_USD", "cost_usd", right: true)]
        default:
            columns = agentColumns
        }
        return rows.isEmpty ? table([], columns).render() + "(none)\n" : table(rows, columns).render()
    }

    /// Points `{hour_iso|date, value}` with a bar scaled to the largest value.
    public static func timeseries(_ answer: JSON, barWidth: Int = 30) -> String {
        let points = list(answer, ["points"])
        let daily = points.first?["date"] != nil
        let values = points.map { $0["value"]?.doubleValue ?? 0 }
        let peak = values.max() ?? 0
        var t = PlainTable(headers: [daily ? "DATE" : "HOUR", "VALUE", ""], rightAligned: [1])
        for (p, v) in zip(points, values) {
            let label = text(p[daily ? "date" : "hour_iso"])
            let n = peak > 0 ? Int((v / peak * Double(barWidth)).rounded()) : 0
            t.add([label, text(p["value"]), String(repeating: "#", count: max(0, min(barWidth, n)))])
        }
        return t.render()
    }

    /// `{status, timestamp, modules:{name:{status, response_time_ms, error_count, …}}, counts, warnings}`
    public static func health(_ answer: JSON) -> String {
        let o = answer.objectValue ?? JSONObject()
        var kv = KeyValueBlock()
        kv.add("status", text(o["status"]))
        kv.add("timestamp", text(o["timestamp"]))
        if let counts = o["counts"]?.objectValue, counts.count > 0 {
            kv.add("counts", counts.entries.map { "\($0.key) \(text($0.value))" }.joined(separator: ", "))
        }
        var out = kv.render() + "\n"
        var t = PlainTable(headers: ["MODULE", "STATUS", "RESPONSE_MS", "ERRORS", "TREND", "CHECKED"], rightAligned: [2, 3])
        for (name, value) in (o["modules"]?.objectValue?.entries ?? []) {
            let m = value.objectValue ?? JSONObject()
            t.add([name, text(m["status"]), text(m["response_time_ms"]), text(m["error_count"]),
                   text(m["trend"]), text(m["checked_at"] ?? m["last_check"])])
        }
        out += t.render()
        for w in o["warnings"]?.arrayValue ?? [] { out += "warning: " + PlainTable.safe(text(w)) + "\n" }
        return out
    }

    public static func alerts(_ answer: JSON) -> String {
        let rows = list(answer, ["alerts"])
        let columns: [Column] = [
            .field("ID", "id", right: true), .field("SEVERITY", "severity"), .field("STATE", "state"),
            .field("SERVICE", "service"), .field("RULE", "rule"), .field("TITLE", "title"),
            Column("VALUE", right: true) { text($0["value"]) }, .field("THRESHOLD", "threshold", right: true),
            .field("FIRES", "fire_count", right: true), .field("LAST_FIRED", "last_fired_at"),
        ]
        var out = table(rows, columns).render()
        if rows.isEmpty { out += "(none)\n" }
        if let counts = answer["counts"]?.objectValue, counts.count > 0 {
            out += "\n" + counts.entries.map { "\($0.key) \(text($0.value))" }.joined(separator: ", ") + "\n"
        }
        return out
    }

    /// The answer of `alerts ack`: the alert as it is now.
    public static func alert(_ answer: JSON) -> String {
        let o = answer["alert"]?.objectValue ?? answer.objectValue ?? JSONObject()
        var kv = KeyValueBlock()
        for (k, v) in o.entries { kv.add(k, text(v)) }
        return kv.render()
    }

    // MARK: logs

    /// Log lines have fixed-width time and level columns, so that `logs --follow` can print
    /// line by line and stay aligned.
    public static let logHeader = "TS                          LEVEL  MESSAGE\n"

    public static func logLine(_ entry: JSON) -> String {
        var ts = text(entry["ts"])
        if PlainTable.width(ts) < 26 { ts += String(repeating: " ", count: 26 - PlainTable.width(ts)) }
        var level = text(entry["level"])
        if level.count < 5 { level += String(repeating: " ", count: 5 - level.count) }
        return PlainTable.safe(ts) + "  " + PlainTable.safe(level) + "  " + PlainTable.safe(text(entry["message"])) + "\n"
    }

    public static func logs(_ answer: JSON) -> String {
        logHeader + (answer["entries"]?.arrayValue ?? []).map(logLine).joined()
    }

    public static func frontendLogs(_ answer: JSON) -> String {
        var out: String
        if let groups = answer["groups"]?.arrayValue {
            out = table(groups, [
                .field("COUNT", "count", right: true), .field("LAST_SEEN", "last_seen"), .field("TYPE", "type"),
                .field("ROUTES", "routes"), .field("MESSAGE", "message"), .field("FINGERPRINT", "fingerprint"),
            ]).render()
            if groups.isEmpty { out += "(none)\n" }
        } else {
            let entries = answer["entries"]?.arrayValue ?? []
            out = table(entries, [
                .field("RECEIVED", "received_at"), .field("ROUTE", "route"), .field("TYPE", "type"),
                .field("MESSAGE", "message"), .field("BUILD", "build_hash"), .field("BROWSER", "browser"),
            ]).render()
            if entries.isEmpty { out += "(none)\n" }
        }
        var footer: [String] = []
        if let r = answer["received_total"] { footer.append("received \(text(r))") }
        if let e = answer["evicted"] { footer.append("evicted \(text(e))") }
        if let d = answer["dropped"]?.objectValue, d.count > 0 {
            footer.append("dropped " + d.entries.map { "\($0.key) \(text($0.value))" }.joined(separator: ", "))
        }
        if !footer.isEmpty { out += "\n" + footer.joined(separator: "; ") + "\n" }
        return out
    }

    // MARK: anything else

    /// Nested objects flattened to `a.b.c  value` rows; arrays of objects as `a[0].b`.
    public static func flattened(_ answer: JSON) -> String {
        var kv = KeyValueBlock()
        func walk(_ prefix: String, _ value: JSON) {
            switch value {
            case .object(let o):
                if o.count == 0 { kv.add(prefix, "-"); return }
                for (k, v) in o.entries { walk(prefix.isEmpty ? k : prefix + "." + k, v) }
            case .array(let a) where a.contains(where: { $0.objectValue != nil || $0.arrayValue != nil }):
                for (i, v) in a.enumerated() { walk("\(prefix)[\(i)]", v) }
            default:
                kv.add(prefix.isEmpty ? "value" : prefix, text(value))
            }
        }
        walk("", answer)
        return kv.render()
    }
}

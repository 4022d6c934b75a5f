import OpsJSON

/// One probed service: `{"name","kind","target","interval_s","timeout_ms","thresholds"}`.
///
/// `thresholds` (all optional):
/// - `degraded_ms`: response time above which a good answer counts as degraded (500);
/// - `stale_s` (heartbeat): a component whose newest heartbeat is older than this is stale
///   (default 3 × interval_s, at least 90 s);
/// - `expect_status` (http): the status code, or list of codes, that counts as up (any 2xx).
public struct ServiceConfig: Sendable, Equatable {
    public enum Kind: String, Sendable, CaseIterable { case postgres, http, tcp, redis, heartbeat }

    public var name: String
    public var kind: Kind
    /// postgres: a libpq URL; http: a URL; tcp: host:port; redis: host:port or
    /// redis://[:password@]host:port; heartbeat: a component name or component type
    /// (worker|queue|model|service) pushed through the ingest API.
    public var target: String
    public var intervalSeconds: Double
    public var timeoutMillis: Int
    /// Response time above which a healthy answer counts as degraded.
    public var degradedMillis: Double
    /// Heartbeat age above which a component is stale; nil = the default (see `staleAfterSeconds`).
    public var staleSeconds: Double?
    /// HTTP status codes that count as up; empty = any 2xx.
    public var expectStatus: [Int]

    public static let thresholdKeys = ["degraded_ms", "stale_s", "expect_status"]

    public init(name: String, kind: Kind, target: String, intervalSeconds: Double = 15,
                timeoutMillis: Int = 2000, degradedMillis: Double = 500, staleSeconds: Double? = nil,
                expectStatus: [Int] = []) {
        self.name = name
        self.kind = kind
        self.target = target
        self.intervalSeconds = intervalSeconds
        self.timeoutMillis = timeoutMillis
        self.degradedMillis = degradedMillis
        self.staleSeconds = staleSeconds
        self.expectStatus = expectStatus
    }

    /// Heartbeats older than this are stale: `stale_s`, else three missed pushes at the
    /// probe's interval but never under 90 s (a component pushing every 30 s may be a little late).
    public var staleAfterSeconds: Double { staleSeconds ?? max(3 * intervalSeconds, 90) }

    /// Whether an HTTP status counts as up.
    public func acceptsStatus(_ status: Int) -> Bool {
        expectStatus.isEmpty ? (200...299).contains(status) : expectStatus.contains(status)
    }

    /// The thresholds as stored in ops.monitor_services.thresholds (defaults filled in).
    public var thresholdsJSON: JSON {
        var o = JSONObject([("degraded_ms", .double(degradedMillis))])
        if kind == .heartbeat { o["stale_s"] = .double(staleAfterSeconds) }
        if kind == .http {
            o["expect_status"] = expectStatus.isEmpty ? .string("2xx") : .array(expectStatus.map { .int(Int64($0)) })
        }
        return .object(o)
    }

    static func parse(_ json: JSON, path: String) throws(MonitorConfigError) -> ServiceConfig {
        let r = try ConfigReader(json, path: path, allowed: ["name", "kind", "target", "interval_s", "timeout_ms", "thresholds"])
        let name = try r.requiredString("name")
        let kindName = try r.requiredString("kind")
        guard let kind = Kind(rawValue: kindName) else {
            throw MonitorConfigError(path: "\(path).kind", message: "\"\(kindName)\" is not one of \(Kind.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        var s = ServiceConfig(name: name, kind: kind, target: try r.requiredString("target"))
        if let v = try r.double("interval_s", 1...86_400) { s.intervalSeconds = v }
        if let v = try r.int("timeout_ms", 1...120_000) { s.timeoutMillis = v }
        if let t = r.object["thresholds"], !t.isNull {
            let tr = try ConfigReader(t, path: "\(path).thresholds", allowed: thresholdKeys)
            if let v = try tr.double("degraded_ms", 0...600_000) { s.degradedMillis = v }
            if let v = try tr.double("stale_s", 1...604_800) { s.staleSeconds = v }
            if let v = tr.object["expect_status"], !v.isNull {
                s.expectStatus = try parseStatuses(v, path: "\(path).thresholds.expect_status")
            }
        }
        return s
    }

    /// `200` or `[200, 204, 401]`: each a code from 100 to 599.
    static func parseStatuses(_ json: JSON, path: String) throws(MonitorConfigError) -> [Int] {
        let items = json.arrayValue ?? [json]
        guard !items.isEmpty else { throw MonitorConfigError(path: path, message: "expected a status code or a non-empty list of them") }
        var out: [Int] = []
        for item in items {
            guard let code = item.intValue, (100...599).contains(code) else {
                throw MonitorConfigError(path: path, message: "expected HTTP status codes (100-599), got \(item.serialized())")
            }
            out.append(Int(code))
        }
        return out
    }
}

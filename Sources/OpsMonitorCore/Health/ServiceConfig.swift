import OpsJSON

/// One probed service: `{"name","kind","target","interval_s","timeout_ms","thresholds"}`.
public struct ServiceConfig: Sendable, Equatable {
    public enum Kind: String, Sendable, CaseIterable { case postgres, http, tcp, redis, heartbeat }

    public var name: String
    public var kind: Kind
    /// postgres: a libpq URL; http: a URL; tcp and redis: host:port; heartbeat: a component
    /// name or component type (worker|queue|model|service) pushed through the ingest API.
    public var target: String
    public var intervalSeconds: Double
    public var timeoutMillis: Int
    /// Response time above which a healthy answer counts as degraded.
    public var degradedMillis: Double

    public init(name: String, kind: Kind, target: String, intervalSeconds: Double = 15,
                timeoutMillis: Int = 2000, degradedMillis: Double = 500) {
        self.name = name
        self.kind = kind
        self.target = target
        self.intervalSeconds = intervalSeconds
        self.timeoutMillis = timeoutMillis
        self.degradedMillis = degradedMillis
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
            let tr = try ConfigReader(t, path: "\(path).thresholds", allowed: ["degraded_ms"])
            if let v = try tr.double("degraded_ms", 0...600_000) { s.degradedMillis = v }
        }
        return s
    }
}

import OpsJSON

/// The nginx access log the monitor tails for API performance:
/// `{"path": "/var/log/nginx/opsplane.access.log"}`.
public struct AccessLogConfig: Sendable, Equatable {
    public var path: String
    public init(path: String) { self.path = path }

    static func parse(_ json: JSON, path: String) throws(MonitorConfigError) -> AccessLogConfig {
        let r = try ConfigReader(json, path: path, allowed: ["path"])
        return AccessLogConfig(path: try r.requiredString("path"))
    }
}

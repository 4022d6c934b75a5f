import OpsJSON

/// Alert rules and hysteresis: `{"failure_threshold":3, "success_threshold":2, "rules":[...]}`.
public struct AlertConfig: Sendable, Equatable {
    /// Breaches in a row before an alert fires.
    public var failureThreshold: Int
    /// Good evaluations in a row before it resolves.
    public var successThreshold: Int

    public static let defaults = AlertConfig(failureThreshold: 3, successThreshold: 2)

    static func parse(_ json: JSON, path: String) throws(MonitorConfigError) -> AlertConfig {
        let r = try ConfigReader(json, path: path, allowed: ["failure_threshold", "success_threshold"])
        var c = AlertConfig.defaults
        if let v = try r.int("failure_threshold", 1...100) { c.failureThreshold = v }
        if let v = try r.int("success_threshold", 1...100) { c.successThreshold = v }
        return c
    }
}

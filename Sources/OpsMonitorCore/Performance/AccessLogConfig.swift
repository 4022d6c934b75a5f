import OpsJSON

/// The nginx access log the monitor tails for API performance:
/// `{"path": "/var/log/nginx/opsplane.access.log"}` plus optional keys:
/// - `routes`: route templates besides Opsplane's own (`/api/v1/items/{id}`: the host app's
///   routes behind the same nginx), matched after the built-in table;
/// - `static_prefixes`: path prefixes counted as "static" (default `["/admin/ops"]`: the
///   dashboard's files; matched per segment, so `/admin/opsx` is not static);
/// - `max_groups`: the most route groups that may exist (templates + "static" + "other",
///   default 200), so a configuration cannot make the per-minute table grow without bound;
/// - `backlog_mb`: on the very first start (no cursor saved for this path) the tail begins
///   this many MiB before the end of the file (default 16: about 60,000 lines of recent
///   history, read in well under a second, instead of the whole file or nothing).
public struct AccessLogConfig: Sendable, Equatable {
    public var path: String
    public var routes: [String]
    public var staticPrefixes: [String]
    public var maxGroups: Int
    public var backlogMB: Int
    /// The API's own route table (`Routes.table()`, what `opsplane routes` prints), given by the
    /// process that parses the file: the monitor links the router, so the groups cannot drift
    /// from the routes that exist. Not a key of the file.
    public var builtInRoutes: [String] = []

    public static let defaultStaticPrefixes = ["/admin/ops"]
    public static let defaultMaxGroups = 200
    public static let defaultBacklogMB = 16

    public init(path: String, routes: [String] = [], staticPrefixes: [String] = AccessLogConfig.defaultStaticPrefixes,
                maxGroups: Int = AccessLogConfig.defaultMaxGroups, backlogMB: Int = AccessLogConfig.defaultBacklogMB) {
        self.path = path
        self.routes = routes
        self.staticPrefixes = staticPrefixes
        self.maxGroups = maxGroups
        self.backlogMB = backlogMB
    }

    /// Every template the tail groups by: Opsplane's route table, then the configured ones.
    public var templates: [String] { builtInRoutes + routes.filter { !builtInRoutes.contains($0) } }

    static func parse(_ json: JSON, path: String, builtInRoutes: [String]) throws(MonitorConfigError) -> AccessLogConfig {
        let r = try ConfigReader(json, path: path, allowed: ["path", "routes", "static_prefixes", "max_groups", "backlog_mb"])
        var config = AccessLogConfig(path: try r.requiredString("path"))
        config.builtInRoutes = builtInRoutes
        if let routes = try stringList(r, "routes") {
            for (i, route) in routes.enumerated() {
                if let problem = RouteTemplate.problem(route) {
                    throw MonitorConfigError(path: "\(path).routes[\(i)]", message: problem)
                }
            }
            config.routes = routes
        }
        if let prefixes = try stringList(r, "static_prefixes") {
            for (i, prefix) in prefixes.enumerated() where !prefix.hasPrefix("/") || prefix.contains("?") {
                throw MonitorConfigError(path: "\(path).static_prefixes[\(i)]", message: "a path prefix must start with / and hold no ?")
            }
            config.staticPrefixes = prefixes
        }
        config.maxGroups = try r.int("max_groups", 10...10_000) ?? defaultMaxGroups
        config.backlogMB = try r.int("backlog_mb", 0...100_000) ?? defaultBacklogMB
        // "static" and "other" are groups too.
        if config.templates.count + 2 > config.maxGroups {
            throw MonitorConfigError(path: "\(path).routes",
                message: "\(config.templates.count) route templates and the groups static and other exceed max_groups \(config.maxGroups)")
        }
        return config
    }

    private static func stringList(_ r: ConfigReader, _ key: String) throws(MonitorConfigError) -> [String]? {
        guard let v = r.object[key], !v.isNull else { return nil }
        guard let list = v.arrayValue else {
            throw MonitorConfigError(path: "\(r.path).\(key)", message: "expected an array of strings, got \(v.typeName)")
        }
        var out: [String] = []
        for (i, item) in list.enumerated() {
            guard let s = item.stringValue else {
                throw MonitorConfigError(path: "\(r.path).\(key)[\(i)]", message: "expected a string, got \(item.typeName)")
            }
            out.append(s)
        }
        return out
    }
}

import OpsJSON

/// The monitor's configuration file (`OPS_MONITOR_CONFIG`, JSON), parsed and validated without
/// I/O. Each section has its own type and parser in its own file:
/// `services` (ServiceConfig), `data_directories` (DataDirectory), `access_log`
/// (AccessLogConfig), `alerts` (AlertConfig). Unknown top-level keys are refused so that a
/// typo does not silently disable a section.
public struct MonitorConfig: Sendable {
    public var services: [ServiceConfig]
    public var dataDirectories: [DataDirectory]
    public var accessLog: AccessLogConfig?
    public var alerts: AlertConfig

    public static let topLevelKeys = ["services", "data_directories", "access_log", "alerts"]

    public init(services: [ServiceConfig] = [], dataDirectories: [DataDirectory] = [],
                accessLog: AccessLogConfig? = nil, alerts: AlertConfig = .defaults) {
        self.services = services
        self.dataDirectories = dataDirectories
        self.accessLog = accessLog
        self.alerts = alerts
    }

    /// Without a file: probe the monitor's own database, nothing else.
    public static func builtIn(databaseURL: String) -> MonitorConfig {
        MonitorConfig(services: [ServiceConfig(name: "postgres", kind: .postgres, target: databaseURL)])
    }

    /// `routeTable`: the API's route patterns, the access log's built-in groups.
    public static func parse(_ text: String, routeTable: [String] = []) throws(MonitorConfigError) -> MonitorConfig {
        let json: JSON
        do { json = try JSON.parse(text) } catch {
            throw MonitorConfigError(path: "", message: "not valid JSON: \(error)")
        }
        return try parse(json, routeTable: routeTable)
    }

    public static func parse(_ json: JSON, routeTable: [String] = []) throws(MonitorConfigError) -> MonitorConfig {
        guard let object = json.objectValue else {
            throw MonitorConfigError(path: "", message: "expected a JSON object, got \(json.typeName)")
        }
        for key in object.keys where !topLevelKeys.contains(key) {
            throw MonitorConfigError(path: key, message: "unknown key; expected one of \(topLevelKeys.joined(separator: ", "))")
        }
        var config = MonitorConfig()
        if let services = object["services"] {
            guard let list = services.arrayValue else {
                throw MonitorConfigError(path: "services", message: "expected an array")
            }
            var seen = Set<String>()
            for (i, item) in list.enumerated() {
                let service = try ServiceConfig.parse(item, path: "services[\(i)]")
                guard seen.insert(service.name).inserted else {
                    throw MonitorConfigError(path: "services[\(i)].name", message: "duplicate service name \"\(service.name)\"")
                }
                config.services.append(service)
            }
        }
        if let dirs = object["data_directories"] {
            guard let list = dirs.arrayValue else {
                throw MonitorConfigError(path: "data_directories", message: "expected an array")
            }
            for (i, item) in list.enumerated() {
                config.dataDirectories.append(try DataDirectory.parse(item, path: "data_directories[\(i)]"))
            }
        }
        if let log = object["access_log"], !log.isNull {
            config.accessLog = try AccessLogConfig.parse(log, path: "access_log", builtInRoutes: routeTable)
        }
        if let alerts = object["alerts"] {
            config.alerts = try AlertConfig.parse(alerts, path: "alerts")
        }
        return config
    }
}

/// A configuration error with the JSON path of the offending value (`services[2].interval_s`).
public struct MonitorConfigError: Error, CustomStringConvertible, Equatable, Sendable {
    public let path: String
    public let message: String
    public init(path: String, message: String) { self.path = path; self.message = message }
    public var description: String { path.isEmpty ? message : "\(path): \(message)" }
}

/// A directory whose disk usage the capacity probe reports (`{"name":"postgres","path":"/var/lib/postgresql"}`).
public struct DataDirectory: Sendable, Equatable {
    public var name: String
    public var path: String
    public init(name: String, path: String) { self.name = name; self.path = path }

    static func parse(_ json: JSON, path: String) throws(MonitorConfigError) -> DataDirectory {
        let r = try ConfigReader(json, path: path, allowed: ["name", "path"])
        return DataDirectory(name: try r.requiredString("name"), path: try r.requiredString("path"))
    }
}

/// Typed reads of one config object, with errors that name the path and refuse unknown keys.
public struct ConfigReader {
    public let object: JSONObject
    public let path: String

    public init(_ json: JSON, path: String, allowed: [String]) throws(MonitorConfigError) {
        guard let object = json.objectValue else {
            throw MonitorConfigError(path: path, message: "expected an object, got \(json.typeName)")
        }
        for key in object.keys where !allowed.contains(key) {
            throw MonitorConfigError(path: "\(path).\(key)", message: "unknown key; expected one of \(allowed.joined(separator: ", "))")
        }
        self.object = object
        self.path = path
    }

    public func has(_ key: String) -> Bool { object[key].map { !$0.isNull } ?? false }

    public func string(_ key: String) throws(MonitorConfigError) -> String? {
        guard let v = object[key], !v.isNull else { return nil }
        guard let s = v.stringValue else { throw MonitorConfigError(path: "\(path).\(key)", message: "expected a string, got \(v.typeName)") }
        return s
    }

    public func requiredString(_ key: String) throws(MonitorConfigError) -> String {
        guard let s = try string(key), !s.isEmpty else {
            throw MonitorConfigError(path: "\(path).\(key)", message: "required (a non-empty string)")
        }
        return s
    }

    public func double(_ key: String, _ range: ClosedRange<Double>) throws(MonitorConfigError) -> Double? {
        guard let v = object[key], !v.isNull else { return nil }
        guard let d = v.doubleValue else { throw MonitorConfigError(path: "\(path).\(key)", message: "expected a number, got \(v.typeName)") }
        guard range.contains(d) else {
            throw MonitorConfigError(path: "\(path).\(key)", message: "\(d) is out of range \(range.lowerBound)...\(range.upperBound)")
        }
        return d
    }

    public func int(_ key: String, _ range: ClosedRange<Int>) throws(MonitorConfigError) -> Int? {
        guard let v = object[key], !v.isNull else { return nil }
        guard let i = v.intValue else { throw MonitorConfigError(path: "\(path).\(key)", message: "expected an integer, got \(v.typeName)") }
        guard range.contains(Int(i)) else {
            throw MonitorConfigError(path: "\(path).\(key)", message: "\(i) is out of range \(range.lowerBound)...\(range.upperBound)")
        }
        return Int(i)
    }

    public func bool(_ key: String) throws(MonitorConfigError) -> Bool? {
        guard let v = object[key], !v.isNull else { return nil }
        guard let b = v.boolValue else { throw MonitorConfigError(path: "\(path).\(key)", message: "expected true or false, got \(v.typeName)") }
        return b
    }
}

import OpsJSON

/// The allowlist of log sources `GET /api/ops/logs` may read: a service name → files (the
/// last path component may hold `*`) and their format. Nothing outside this list is ever
/// opened; request parameters never become paths.
///
/// File (`OPS_LOG_SOURCES`):
/// `{"services":[{"name":"nginx-access","files":["/var/log/nginx/access.log"],"format":"nginx_access"},
///               {"name":"monitor","journald_unit":"opsplane-monitor.service"}]}`
public struct LogSources: Sendable {
    public struct Service: Sendable, Equatable {
        public var name: String
        public var files: [String]
        public var format: LogFormat
        /// A systemd unit read through journalctl instead of files.
        public var journaldUnit: String? = nil
        /// A journal directory other than the system's (containers, tests).
        public var journalDirectory: String? = nil
    }
    public var services: [Service]

    public func service(named name: String) -> Service? { services.first { $0.name == name } }
    public var names: [String] { services.map(\.name) }

    /// Debian's usual places, for a production host without a configuration file.
    public static let debianDefaults = LogSources(services: [
        Service(name: "nginx-access", files: ["/var/log/nginx/access.log"], format: .auto),
        Service(name: "nginx-error", files: ["/var/log/nginx/error.log"], format: .nginxError),
        Service(name: "postgres", files: ["/var/log/postgresql/postgresql-*-main.log"], format: .postgres),
        Service(name: "opsplane", files: ["/var/log/opsplane/*.log"], format: .json),
    ])

    public struct Invalid: Error, CustomStringConvertible {
        public let message: String
        public var description: String { message }
    }

    public static func parse(_ text: String) throws -> LogSources {
        guard let root = (try? JSON.parse(text))?.objectValue, let list = root["services"]?.arrayValue else {
            throw Invalid(message: "expected {\"services\": [{\"name\", \"files\", \"format\"}, …]}")
        }
        var out: [Service] = []
        for (i, item) in list.enumerated() {
            guard let o = item.objectValue, let name = o["name"]?.stringValue, !name.isEmpty,
                  name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == "." }) else {
                throw Invalid(message: "services[\(i)]: needs a name (letters, digits, -_.)")
            }
            for key in o.keys where !["name", "files", "format", "journald_unit", "journal_directory"].contains(key) {
                throw Invalid(message: "services[\(i)]: unknown key \(key)")
            }
            guard !out.contains(where: { $0.name == name }) else { throw Invalid(message: "services[\(i)]: duplicate name \(name)") }
            func safePath(_ p: String) -> Bool { p.hasPrefix("/") && !p.split(separator: "/").contains("..") }
            if let unit = o["journald_unit"]?.stringValue {
                guard !unit.isEmpty, !unit.hasPrefix("-"),
                      unit.allSatisfy({ $0.isLetter || $0.isNumber || "@._:-".contains($0) }) else {
                    throw Invalid(message: "services[\(i)].journald_unit: a unit name such as nginx.service")
                }
                let directory = o["journal_directory"]?.stringValue
                if let directory, !safePath(directory) {
                    throw Invalid(message: "services[\(i)].journal_directory: an absolute path without '..'")
                }
                out.append(Service(name: name, files: [], format: .plain, journaldUnit: unit, journalDirectory: directory))
                continue
            }
            guard let files = o["files"]?.arrayValue?.compactMap(\.stringValue), !files.isEmpty, files.allSatisfy(safePath) else {
                throw Invalid(message: "services[\(i)]: needs absolute files without '..' (or a journald_unit)")
            }
            let formatName = o["format"]?.stringValue ?? "auto"
            guard let format = LogFormat(rawValue: formatName) else {
                throw Invalid(message: "services[\(i)].format: \(formatName) is not one of \(LogFormat.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            out.append(Service(name: name, files: files, format: format))
        }
        return LogSources(services: out)
    }
}

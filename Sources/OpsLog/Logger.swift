import OpsJSON
#if canImport(Glibc)
import Glibc
#endif

public enum LogLevel: Int, Comparable, Sendable, CaseIterable {
    case debug = 0, info, warn, error

    public var name: String {
        switch self {
        case .debug: return "debug"
        case .info: return "info"
        case .warn: return "warn"
        case .error: return "error"
        }
    }

    public init?(name: String) {
        guard let level = LogLevel.allCases.first(where: { $0.name == name.lowercased() }) else { return nil }
        self = level
    }

    public static func < (a: LogLevel, b: LogLevel) -> Bool { a.rawValue < b.rawValue }
}

/// Writes one JSON object per line: `{"ts","level","msg",…fields}`.
/// Each line goes out in a single write(2) on an fd opened for appending, so lines from
/// many threads never interleave. Thread-safe; never fails (a failed write is dropped).
public final class Logger: @unchecked Sendable {
    public let minimumLevel: LogLevel
    let fd: Int32
    /// Added to every line (for example `component`, `pid`).
    let baseFields: [(String, JSON)]

    public init(minimumLevel: LogLevel = .info, fd: Int32 = 2, baseFields: [(String, JSON)] = []) {
        self.minimumLevel = minimumLevel
        self.fd = fd
        self.baseFields = baseFields
    }

    public func log(_ level: LogLevel, _ message: String, _ fields: [(String, JSON)] = []) {
        guard level >= minimumLevel else { return }
        var object = JSONObject([("ts", .string(Timestamp.iso8601Now())), ("level", .string(level.name)),
                                 ("msg", .string(message))])
        for (k, v) in baseFields { object[k] = v }
        for (k, v) in fields { object[k] = v }
        var line = JSON.object(object).serializedBytes()
        line.append(UInt8(ascii: "\n"))
        line.withUnsafeBytes { buf in
            var offset = 0
            while offset < buf.count {
                let n = write(fd, buf.baseAddress! + offset, buf.count - offset)
                if n <= 0 { if n < 0 && errno == EINTR { continue }; return }
                offset += n
            }
        }
    }

    public func debug(_ m: String, _ f: [(String, JSON)] = []) { log(.debug, m, f) }
    public func info(_ m: String, _ f: [(String, JSON)] = []) { log(.info, m, f) }
    public func warn(_ m: String, _ f: [(String, JSON)] = []) { log(.warn, m, f) }
    public func error(_ m: String, _ f: [(String, JSON)] = []) { log(.error, m, f) }
}

import OpsActivity
import OpsConfig
import OpsHTTP
import OpsLedger
import OpsLog
import OpsLogTail
import OpsPostgres
#if canImport(Glibc)
import Glibc
#endif

/// What one accept thread's handlers share: configuration, the logger and the thread's own
/// database session. Never shared between threads.
public final class AppContext {
    public let config: Config
    public let logger: Logger
    public let database: DatabaseSession
    let authenticator: Authenticator
    public let cachePolicy: CachePolicy
    /// The process's browser-report queue (shared by its accept threads); nil where the
    /// process does not take reports.
    public let beacons: FrontendLogQueue?

    public init(config: Config, logger: Logger, applicationName: String, beacons: FrontendLogQueue? = nil) {
        self.beacons = beacons
        self.config = config
        self.logger = logger
        self.database = DatabaseSession(url: config.databaseURL, applicationName: applicationName,
                                        connectTimeoutSeconds: config.dbConnectTimeoutSeconds,
                                        statementTimeoutMillis: config.dbStatementTimeoutMillis)
        self.authenticator = Authenticator(config: config)
        self.cachePolicy = CachePolicy(maxAgeMillis: Double(config.cacheMaxAgeMillis), cheapMillis: Double(config.cacheCheapMillis))
    }

    private var cachedLogSources: LogSources?

    /// The log allowlist: OPS_LOG_SOURCES, read once per thread; Debian's default places
    /// without it. A file that cannot be read or parsed is a 503 naming the problem.
    func logSources() throws -> LogSources {
        if let cachedLogSources { return cachedLogSources }
        let path = config.logSourcesPath
        guard !path.isEmpty else { cachedLogSources = .debianDefaults; return .debianDefaults }
        guard let text = Self.readSmallFile(path) else {
            throw APIError(status: 503, code: "log_sources_unavailable", message: "Cannot read OPS_LOG_SOURCES (\(path)).")
        }
        do {
            let sources = try LogSources.parse(text)
            cachedLogSources = sources
            return sources
        } catch {
            throw APIError(status: 503, code: "log_sources_invalid", message: "OPS_LOG_SOURCES (\(path)): \(error)")
        }
    }

    static func readSmallFile(_ path: String) -> String? {
        guard let f = fopen(path, "r") else { return nil }
        defer { fclose(f) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = fread(&buffer, 1, buffer.count, f)
            if n <= 0 { break }
            bytes += buffer[0..<n]
            if bytes.count > 1 << 20 { return nil }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

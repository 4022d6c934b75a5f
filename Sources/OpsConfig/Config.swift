/// Opsplane's configuration, read from environment variables. Every variable is documented in
/// README.md ("Configuration"); defaults suit the embedded `make run` stack.
public struct Config: Equatable, Sendable {
    /// libpq connection string or URL (`OPS_DATABASE_URL`).
    public var databaseURL: String
    /// Unix socket the FastCGI worker listens on (`OPS_FCGI_SOCKET`).
    public var fcgiSocket: String
    /// Accept threads per worker process, each with its own Postgres connection (`OPS_FCGI_THREADS`).
    public var fcgiThreads: Int
    /// listen(2) backlog of the worker socket (`OPS_FCGI_BACKLOG`).
    public var fcgiBacklog: Int
    /// Hard cap on request bodies, in bytes (`OPS_MAX_BODY_BYTES`).
    public var maxBodyBytes: Int
    /// Minimum log level: debug|info|warn|error (`OPS_LOG_LEVEL`).
    public var logLevel: String
    /// Seconds libpq waits for a connection (`OPS_DB_CONNECT_TIMEOUT_S`).
    public var dbConnectTimeoutSeconds: Int
    /// Per-statement timeout in milliseconds, 0 = none (`OPS_DB_STATEMENT_TIMEOUT_MS`).
    public var dbStatementTimeoutMillis: Int
    /// Directory of numbered `.sql` migrations; empty = the ones built into the binary
    /// (`OPS_MIGRATIONS_DIR`).
    public var migrationsDirectory: String
    /// Seconds a stopping worker waits for requests in flight before it exits anyway
    /// (`OPS_SHUTDOWN_GRACE_S`).
    public var shutdownGraceSeconds: Int
    /// HMAC key of dashboard session cookies; empty = generated once and kept in the database
    /// (`OPS_SESSION_SECRET`, at least 32 characters).
    public var sessionSecret: String
    /// Lifetime of a dashboard session in seconds (`OPS_SESSION_TTL_S`).
    public var sessionTTLSeconds: Int
    /// Shared secret of the host app's HS256 JWTs; empty = JWT sign-in off (`OPS_JWT_HS256_SECRET`).
    public var jwtSecret: String
    /// JWT claim that marks an admin: true, "admin" or an array holding "admin" (`OPS_JWT_ADMIN_CLAIM`).
    public var jwtAdminClaim: String
    /// Cookie that may carry the host app's JWT, besides `Authorization: Bearer` (`OPS_JWT_COOKIE`).
    public var jwtCookie: String
    /// Daily spend limit per user in cents, 0 = off (`DAILY_COST_PER_USER_CENTS`).
    public var dailyCostPerUserCents: Int64
    /// Daily spend limit for everyone together in cents, 0 = off (`DAILY_COST_GLOBAL_CENTS`).
    public var dailyCostGlobalCents: Int64
    /// Runs a non-admin user may start per day, 0 = off (`DAILY_RUNS_PER_USER`).
    public var dailyRunsPerUser: Int64
    /// Longest time an expensive aggregate answer is served from cache (`OPS_CACHE_MAX_AGE_MS`).
    public var cacheMaxAgeMillis: Int
    /// Answers that took at most this long to compute are recomputed whenever data changed,
    /// so they are always exact (`OPS_CACHE_CHEAP_MS`).
    public var cacheCheapMillis: Int
    /// Address and port the ticker listens on, behind nginx (`OPS_TICKER_HOST`, `OPS_TICKER_PORT`).
    public var tickerHost: String
    public var tickerPort: Int
    /// Event-loop threads of the ticker (`OPS_TICKER_THREADS`).
    public var tickerThreads: Int
    /// The monitor's JSON configuration file (services, data directories, access log, alert
    /// rules); empty = built-in defaults that probe the database only (`OPS_MONITOR_CONFIG`).
    public var monitorConfigPath: String
    /// Name of the advisory lock that lets one monitor act while others wait (`OPS_MONITOR_LOCK`).
    public var monitorLockName: String
    /// The dashboard's address, for links in notifications (`OPS_DASHBOARD_URL`).
    public var dashboardURL: String
    /// Days of history kept for runs, events, samples and rollups (`OPS_RETENTION_DAYS`).
    public var retentionDays: Int
    /// Discord webhook for alerts and the digest; empty = none (`DISCORD_WEBHOOK_URL`).
    public var discordWebhookURL: String
    /// Whether alerts and the digest go to Discord at all (`DISCORD_ENABLE_ALERTS`, default off).
    public var discordEnableAlerts: Bool
    /// Five-field cron (UTC) of the daily digest (`DISCORD_DAILY_DIGEST_CRON`).
    public var discordDigestCron: String
    /// Size cap of one browser error report in bytes (`OPS_BEACON_MAX_BYTES`).
    public var beaconMaxBytes: Int
    /// Reports of one error fingerprint stored per minute; the rest are refused with 429
    /// (`OPS_BEACON_FINGERPRINT_PER_MIN`).
    public var beaconPerFingerprintPerMinute: Int
    /// Reports a worker process holds in memory before they are written; beyond it reports
    /// are refused with 503 `queue_full` (`OPS_BEACON_QUEUE`).
    public var beaconQueueReports: Int
    /// The longest a report waits in a worker's memory before its batch is written
    /// (`OPS_BEACON_FLUSH_MS`).
    public var beaconFlushMillis: Int
    /// JSON allowlist of the log files `GET /api/ops/logs` may read; empty = Debian's usual
    /// places (`OPS_LOG_SOURCES`).
    public var logSourcesPath: String
    /// Size cap of a support bundle's JSON before compression (`OPS_BUNDLE_MAX_BYTES`).
    public var bundleMaxBytes: Int

    public static let defaults = Config(
        databaseURL: "postgresql://opsplane@127.0.0.1:5432/opsplane",
        fcgiSocket: ".opsplane/run/fcgi-0.sock",
        fcgiThreads: 4,
        fcgiBacklog: 128,
        maxBodyBytes: 1_048_576,
        logLevel: "info",
        dbConnectTimeoutSeconds: 3,
        dbStatementTimeoutMillis: 5000,
        migrationsDirectory: "",
        shutdownGraceSeconds: 9,
        sessionSecret: "",
        sessionTTLSeconds: 43200,
        jwtSecret: "",
        jwtAdminClaim: "is_admin",
        jwtCookie: "",
        dailyCostPerUserCents: 0,
        dailyCostGlobalCents: 0,
        dailyRunsPerUser: 0,
        cacheMaxAgeMillis: 2000,
        cacheCheapMillis: 25,
        tickerHost: "127.0.0.1",
        tickerPort: 8091,
        tickerThreads: 2,
        monitorConfigPath: "",
        monitorLockName: "opsplane-monitor",
        dashboardURL: "http://127.0.0.1:8080/admin/ops/",
        retentionDays: 90,
        discordWebhookURL: "",
        discordEnableAlerts: false,
        discordDigestCron: "0 8 * * *",
        beaconMaxBytes: 16_384,
        beaconPerFingerprintPerMinute: 60,
        beaconQueueReports: 4096,
        beaconFlushMillis: 50,
        logSourcesPath: "",
        bundleMaxBytes: 8 << 20
    )

    /// A variable with a value that cannot be used. The message names the variable, the value
    /// and what would be accepted.
    public struct Invalid: Error, CustomStringConvertible, Equatable {
        public let variable: String
        public let value: String
        public let expected: String
        public var description: String { "\(variable)=\(value) is not valid: expected \(expected)." }
    }

    /// Reads the variables from `environment`, falling back to `defaults`. Empty values count
    /// as unset.
    public static func from(environment env: [String: String]) throws(Invalid) -> Config {
        var c = Config.defaults
        func value(_ name: String) -> String? {
            guard let v = env[name], !v.isEmpty else { return nil }
            return v
        }
        func int(_ name: String, _ range: ClosedRange<Int>) throws(Invalid) -> Int? {
            guard let raw = value(name) else { return nil }
            guard let v = Int(raw), range.contains(v) else {
                throw Invalid(variable: name, value: raw,
                              expected: "an integer from \(range.lowerBound) to \(range.upperBound)")
            }
            return v
        }
        // A secret of at least 32 bytes; the error shows its length, never the value.
        func secret(_ name: String, expected: String) throws(Invalid) -> String? {
            guard let v = value(name) else { return nil }
            guard v.utf8.count >= 32 else {
                throw Invalid(variable: name, value: "(\(v.utf8.count) characters)", expected: expected)
            }
            return v
        }
        if let v = value("OPS_DATABASE_URL") { c.databaseURL = v }
        if let v = value("OPS_FCGI_SOCKET") { c.fcgiSocket = v }
        if let v = try int("OPS_FCGI_THREADS", 1...256) { c.fcgiThreads = v }
        if let v = try int("OPS_FCGI_BACKLOG", 1...65535) { c.fcgiBacklog = v }
        if let v = try int("OPS_MAX_BODY_BYTES", 1024...(64 << 20)) { c.maxBodyBytes = v }
        if let v = value("OPS_LOG_LEVEL") {
            guard ["debug", "info", "warn", "error"].contains(v.lowercased()) else {
                throw Invalid(variable: "OPS_LOG_LEVEL", value: v, expected: "one of debug, info, warn, error")
            }
            c.logLevel = v.lowercased()
        }
        if let v = try int("OPS_DB_CONNECT_TIMEOUT_S", 1...120) { c.dbConnectTimeoutSeconds = v }
        if let v = try int("OPS_DB_STATEMENT_TIMEOUT_MS", 0...3_600_000) { c.dbStatementTimeoutMillis = v }
        if let v = value("OPS_MIGRATIONS_DIR") { c.migrationsDirectory = v }
        if let v = try int("OPS_SHUTDOWN_GRACE_S", 1...300) { c.shutdownGraceSeconds = v }
        if let v = try secret("OPS_SESSION_SECRET", expected: "at least 32 characters") { c.sessionSecret = v }
        if let v = try int("OPS_SESSION_TTL_S", 60...2_592_000) { c.sessionTTLSeconds = v }
        if let v = try secret("OPS_JWT_HS256_SECRET", expected: "at least 32 characters (256 bits)") { c.jwtSecret = v }
        if let v = value("OPS_JWT_ADMIN_CLAIM") { c.jwtAdminClaim = v }
        if let v = value("OPS_JWT_COOKIE") { c.jwtCookie = v }
        if let v = try int("DAILY_COST_PER_USER_CENTS", 0...1_000_000_000) { c.dailyCostPerUserCents = Int64(v) }
        if let v = try int("DAILY_COST_GLOBAL_CENTS", 0...1_000_000_000) { c.dailyCostGlobalCents = Int64(v) }
        if let v = try int("DAILY_RUNS_PER_USER", 0...100_000_000) { c.dailyRunsPerUser = Int64(v) }
        if let v = try int("OPS_CACHE_MAX_AGE_MS", 0...60_000) { c.cacheMaxAgeMillis = v }
        if let v = try int("OPS_CACHE_CHEAP_MS", 0...10_000) { c.cacheCheapMillis = v }
        if let v = value("OPS_TICKER_HOST") { c.tickerHost = v }
        if let v = try int("OPS_TICKER_PORT", 1...65535) { c.tickerPort = v }
        if let v = try int("OPS_TICKER_THREADS", 1...64) { c.tickerThreads = v }
        if let v = value("OPS_MONITOR_CONFIG") { c.monitorConfigPath = v }
        if let v = value("OPS_MONITOR_LOCK") { c.monitorLockName = v }
        if let v = value("OPS_DASHBOARD_URL") { c.dashboardURL = v }
        if let v = try int("OPS_RETENTION_DAYS", 1...3650) { c.retentionDays = v }
        if let v = value("DISCORD_WEBHOOK_URL") {
            // The URL holds the webhook's secret token: errors never print it.
            guard v.hasPrefix("https://") || v.hasPrefix("http://") else {
                throw Invalid(variable: "DISCORD_WEBHOOK_URL", value: "(\(v.utf8.count) characters)",
                              expected: "an http:// or https:// URL")
            }
            c.discordWebhookURL = v
        }
        if let v = value("DISCORD_ENABLE_ALERTS") {
            switch v.lowercased() {
            case "1", "true", "yes", "on": c.discordEnableAlerts = true
            case "0", "false", "no", "off": c.discordEnableAlerts = false
            default: throw Invalid(variable: "DISCORD_ENABLE_ALERTS", value: v, expected: "true or false")
            }
        }
        if let v = value("DISCORD_DAILY_DIGEST_CRON") { c.discordDigestCron = v }
        if let v = try int("OPS_BEACON_MAX_BYTES", 256...1_048_576) { c.beaconMaxBytes = v }
        if let v = try int("OPS_BEACON_FINGERPRINT_PER_MIN", 1...1_000_000) { c.beaconPerFingerprintPerMinute = v }
        if let v = try int("OPS_BEACON_QUEUE", 1...1_000_000) { c.beaconQueueReports = v }
        if let v = try int("OPS_BEACON_FLUSH_MS", 1...60_000) { c.beaconFlushMillis = v }
        if let v = value("OPS_LOG_SOURCES") { c.logSourcesPath = v }
        if let v = try int("OPS_BUNDLE_MAX_BYTES", 65_536...(256 << 20)) { c.bundleMaxBytes = v }
        return c
    }
}

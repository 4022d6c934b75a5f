import OpsActivity
import OpsConfig
import OpsLog
import OpsPostgres

/// What one accept thread's handlers share: configuration, the logger and the thread's own
/// database session. Never shared between threads.
public final class AppContext {
    public let config: Config
    public let logger: Logger
    public let database: DatabaseSession
    let authenticator: Authenticator
    public let cachePolicy: CachePolicy

    public init(config: Config, logger: Logger, applicationName: String) {
        self.config = config
        self.logger = logger
        self.database = DatabaseSession(url: config.databaseURL, applicationName: applicationName,
                                        connectTimeoutSeconds: config.dbConnectTimeoutSeconds,
                                        statementTimeoutMillis: config.dbStatementTimeoutMillis)
        self.authenticator = Authenticator(config: config)
        self.cachePolicy = CachePolicy(maxAgeMillis: Double(config.cacheMaxAgeMillis), cheapMillis: Double(config.cacheCheapMillis))
    }
}

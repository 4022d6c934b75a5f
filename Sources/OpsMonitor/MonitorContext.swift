import Foundation
import OpsConfig
import OpsLog
import OpsMonitorCore
import OpsPostgres

/// What every monitor component shares: the process configuration, the parsed monitor
/// configuration, the logger, this process's instance name, whether it currently holds the
/// monitor lock (only then may components act), and the stop signal.
public final class MonitorContext: @unchecked Sendable {
    public let config: Config
    public let monitorConfig: MonitorConfig
    public let logger: Logger
    /// `host:pid`, unique per process: names claims in the outbox and rows in monitor_instances.
    public let instance: String
    public let startedAt: Date

    private let lock = NSCondition()
    private var _active = false
    private var _stopping = false

    public init(config: Config, monitorConfig: MonitorConfig, logger: Logger, instance: String) {
        self.config = config
        self.monitorConfig = monitorConfig
        self.logger = logger
        self.instance = instance
        self.startedAt = Date()
    }

    /// True while this process holds the monitor lock.
    public var isActive: Bool { lock.lock(); defer { lock.unlock() }; return _active && !_stopping }
    public var isStopping: Bool { lock.lock(); defer { lock.unlock() }; return _stopping }

    func setActive(_ value: Bool) { lock.lock(); _active = value; lock.broadcast(); lock.unlock() }

    public func stop() { lock.lock(); _stopping = true; lock.broadcast(); lock.unlock() }

    /// Sleeps up to `seconds`; returns early (false) when the process is stopping.
    @discardableResult
    public func sleep(_ seconds: Double) -> Bool {
        let deadline = Date(timeIntervalSinceNow: max(0, seconds))
        lock.lock(); defer { lock.unlock() }
        while !_stopping {
            if !lock.wait(until: deadline) { return true }
        }
        return false
    }

    /// A database session of the component's own (one connection per thread).
    public func makeDatabase(_ component: String) -> DatabaseSession {
        DatabaseSession(url: config.databaseURL, applicationName: "opsplane-monitor-\(component)",
                        connectTimeoutSeconds: config.dbConnectTimeoutSeconds,
                        statementTimeoutMillis: max(config.dbStatementTimeoutMillis, 30_000))
    }
}

/// One job of the monitor (probes, access-log tail, alerts, notifications, rollups). `run`
/// is called once on a thread of its own and returns when `context.isStopping`; it must act
/// (write, alert, send) only while `context.isActive`, and sleep with `context.sleep`.
public protocol MonitorComponent: AnyObject {
    var name: String { get }
    func run(_ context: MonitorContext)
}

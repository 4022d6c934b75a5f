import Foundation
import OpsJSON
import OpsLog
import OpsPostgres

/// Runs the monitor components and decides whether this process may act: it holds a
/// session-level advisory lock (named by OPS_MONITOR_LOCK) on a connection of its own. A
/// second monitor waits for the lock and takes over within `lockPollSeconds` when the first
/// one stops or loses its database connection, so two can run for availability without
/// double alerts.
public final class MonitorProcess {
    public static let lockPollSeconds = 2.0
    let context: MonitorContext
    let components: [MonitorComponent]
    private var threads: [Thread] = []
    private var finished = 0
    private let done = NSCondition()

    public init(context: MonitorContext, components: [MonitorComponent]) {
        self.context = context
        self.components = components
    }

    /// Starts every component and the lock keeper; returns at once.
    public func start() {
        for component in components {
            let context = self.context
            let thread = Thread { [weak self] in
                context.logger.info("monitor component started", [("monitor_component", .string(component.name))])
                component.run(context)
                context.logger.info("monitor component stopped", [("monitor_component", .string(component.name))])
                self?.componentFinished()
            }
            thread.name = "monitor-\(component.name)"
            thread.stackSize = 1 << 20
            threads.append(thread)
            thread.start()
        }
        let keeper = Thread { [weak self] in self?.keepLock() }
        keeper.name = "monitor-lock"
        keeper.start()
    }

    /// Stops the components and waits for them (at most `graceSeconds`).
    public func stop(graceSeconds: Double) {
        context.stop()
        let deadline = Date(timeIntervalSinceNow: graceSeconds)
        done.lock()
        while finished < components.count {
            if !done.wait(until: deadline) { break }
        }
        let left = components.count - finished
        done.unlock()
        if left > 0 { context.logger.warn("monitor components still running at exit", [("count", .int(Int64(left)))]) }
    }

    private func componentFinished() { done.lock(); finished += 1; done.broadcast(); done.unlock() }

    /// Acquires the lock when free, checks it is still held, records this instance's heartbeat.
    private func keepLock() {
        let logger = context.logger
        var connection: PGConnection?
        var holding = false
        while !context.isStopping {
            do {
                if connection == nil || !(connection!.isHealthy) {
                    if holding { logger.warn("monitor lock lost with its database connection; standing by") }
                    holding = false
                    context.setActive(false)
                    connection = try PGConnection(url: context.config.databaseURL, applicationName: "opsplane-monitor-lock",
                                                  connectTimeoutSeconds: context.config.dbConnectTimeoutSeconds)
                }
                let db = connection!
                if !holding {
                    let r = try db.query("SELECT pg_try_advisory_lock(hashtext($1))", [context.config.monitorLockName])
                    if r.string(0, 0) == "t" {
                        holding = true
                        logger.info("monitor lock acquired: this monitor is active", [("lock", .string(context.config.monitorLockName))])
                        context.setActive(true)
                    }
                } else {
                    // A round-trip proves the session (and with it the lock) is still alive.
                    _ = try db.query("SELECT 1")
                }
                try db.query("""
                    INSERT INTO ops.monitor_instances (instance, pid, host, active, started_at, heartbeat_at, version)
                    VALUES ($1, $2, $3, $4, $5, now(), $6)
                    ON CONFLICT (instance) DO UPDATE SET active = EXCLUDED.active, heartbeat_at = now()
                    """, [context.instance, String(getpid()), ProcessInfo.processInfo.hostName, holding ? "true" : "false",
                          ISO8601DateFormatter().string(from: context.startedAt), MonitorProcess.version])
            } catch {
                if holding { logger.warn("monitor lock lost; standing by", [("error", .string("\(error)"))]) }
                holding = false
                context.setActive(false)
                connection = nil
            }
            context.sleep(Self.lockPollSeconds)
        }
        if holding, let db = connection {
            _ = try? db.query("UPDATE ops.monitor_instances SET active = false, heartbeat_at = now() WHERE instance = $1", [context.instance])
            _ = try? db.query("SELECT pg_advisory_unlock(hashtext($1))", [context.config.monitorLockName])
        }
        context.setActive(false)
    }

    public static let version = "0.1.0"
}

import OpsJSON
import OpsLog
import OpsMonitorCore
#if canImport(Glibc)
import Glibc
#endif

/// Keeps ops.api_rollups up to date with ops.api_minutes (`ApiRollupStore`) while this
/// monitor is active: once a minute in the steady state (the tail marks the current hour at
/// every flush), and within a few seconds when minutes older than the previous hour were
/// added (a backlog read after downtime, a rotated file finished late), because until then
/// the 24h and 7d answers have to sum those minutes instead of reading hours.
final class ApiRollupComponent: MonitorComponent {
    let name = "api-rollups"
    static let intervalSeconds = 60.0
    static let checkSeconds = 5.0

    func run(_ context: MonitorContext) {
        let session = context.makeDatabase(name)
        var lastRun = -Double.infinity
        while !context.isStopping {
            if context.isActive {
                do {
                    let now = Self.now()
                    let dirty = try session.run { try ApiRollupStore(db: $0).dirtyFrom() }
                    let previousHour = (now / 3_600).rounded(.down) * 3_600 - 3_600
                    if let dirty, now - lastRun >= Self.intervalSeconds || Double(dirty) < previousHour {
                        let started = Timestamp.monotonicMillis()
                        if let from = try session.run({ try ApiRollupStore(db: $0).run() }) {
                            context.logger.debug("api rollups recomputed", [("from_hour", .int(from)),
                                                                            ("ms", .double(Timestamp.monotonicMillis() - started))])
                        }
                        lastRun = now
                    }
                } catch {
                    context.logger.warn("api rollups failed; retrying", [("error", .string("\(error)"))])
                }
            }
            context.sleep(context.isActive ? Self.checkSeconds : 2)
        }
        session.close()
    }

    static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }
}

import OpsJSON
import OpsLog
import OpsMonitorCore
import OpsPostgres
#if canImport(Glibc)
import Glibc
#endif

/// Tails the configured nginx access log while this monitor is active: polls every second,
/// reads at most `pollBudgetBytes` between two flush checks, and every `flushSeconds` commits
/// the counts together with the cursor (`ApiMinuteStore.flush`). When a flush fails or finds
/// the cursor moved by another monitor, the counts in memory are dropped and the tail starts
/// again from the cursor in the database: the lines are read again, never counted twice.
final class AccessLogTailComponent: MonitorComponent {
    let name = "access-log"
    let config: AccessLogConfig
    let grouper: RouteGrouper

    static let pollSeconds = 1.0
    static let flushSeconds = 5.0
    static let pollBudgetBytes = 32 << 20
    /// Bad lines are reported to ops.system_errors at most this often.
    static let badLineReportSeconds = 60.0
    /// A backlog at least this large is logged when read ("caught up") and committed at once.
    static let backlogReportBytes: Int64 = 8 << 20

    init(config: AccessLogConfig) {
        self.config = config
        self.grouper = RouteGrouper(config)
    }

    func run(_ context: MonitorContext) {
        let session = context.makeDatabase(name)
        let logger = context.logger
        var tail: AccessLogTail?
        var saved: TailCursor?
        var lastFlush = 0.0
        var badLines: Int64 = 0
        var firstBad: String?
        var lastBadReport = 0.0
        // A run of polls without sleeping (a backlog): when it started and the totals then.
        var burst: (start: Double, bytes: Int64, lines: Int64)?

        func report(_ events: [TailEvent]) {
            for e in events {
                let fields: [(String, JSON)] = [("path", .string(config.path)), ("event", .string(e.type))]
                if e.warning { logger.warn("access log: \(e.message)", fields) } else { logger.info("access log: \(e.message)", fields) }
                if e.warning { recordError(session, type: e.type, message: e.message) }
            }
        }

        /// Commits the counts and the cursor; false when the tail must start again from the database.
        func flush(_ t: AccessLogTail, now: Double) -> Bool {
            guard let cursor = t.cursor else { return true } // no file yet: nothing counted
            let rows = t.aggregator.rows
            do {
                let ok = try session.run { db in
                    try ApiMinuteStore(db: db).flush(path: config.path, old: saved, new: cursor, rows: rows)
                }
                guard ok else {
                    logger.warn("access log: another monitor moved the cursor; reading again from the saved one",
                                [("path", .string(config.path))])
                    return false
                }
            } catch {
                logger.warn("access log: saving counts failed; reading again from the saved cursor",
                            [("path", .string(config.path)), ("error", .string("\(error)"))])
                return false
            }
            saved = cursor
            badLines += t.aggregator.badLines
            if firstBad == nil { firstBad = t.aggregator.firstBadLine }
            t.aggregator.reset()
            if badLines > 0 && now - lastBadReport >= Self.badLineReportSeconds {
                let message = "\(badLines) access-log line(s) could not be read as nginx JSON (first: \(firstBad ?? "?"))"
                logger.warn("access log: \(message)", [("path", .string(config.path)), ("bad_lines", .int(badLines))])
                recordError(session, type: "bad_lines", message: message)
                badLines = 0
                firstBad = nil
                lastBadReport = now
            }
            return true
        }

        while !context.isStopping {
            guard context.isActive else {
                tail = nil // a standby keeps nothing: the active monitor owns the cursor
                context.sleep(Self.pollSeconds)
                continue
            }
            let now = Self.now()
            if tail == nil {
                do {
                    saved = try session.run { try ApiMinuteStore(db: $0).cursor(path: config.path) }
                } catch {
                    logger.warn("access log: cannot read the saved cursor", [("error", .string("\(error)"))])
                    context.sleep(Self.pollSeconds)
                    continue
                }
                let t = AccessLogTail(path: config.path, backlogBytes: Int64(config.backlogMB) << 20, grouper: grouper)
                t.start(from: saved)
                report(t.takeEvents())
                tail = t
                lastFlush = now
            }
            let t = tail!
            if burst == nil { burst = (now, t.bytesConsumed, t.linesConsumed) }
            let more = t.poll(budget: Self.pollBudgetBytes, now: now)
            report(t.takeEvents())
            var flushNow = false
            if !more, let b = burst {
                let bytes = t.bytesConsumed - b.bytes
                if bytes >= Self.backlogReportBytes {
                    let seconds = max(Self.now() - b.start, 1e-6)
                    let lines = t.linesConsumed - b.lines
                    logger.info("access log: caught up", [("path", .string(config.path)), ("bytes", .int(bytes)),
                                                          ("lines", .int(lines)), ("seconds", .double(seconds)),
                                                          ("lines_per_s", .int(Int64(Double(lines) / seconds)))])
                    flushNow = true
                }
                burst = nil
            }
            if flushNow || Self.now() - lastFlush >= Self.flushSeconds {
                lastFlush = Self.now()
                if !flush(t, now: lastFlush) {
                    tail = nil
                    burst = nil
                    context.sleep(Self.pollSeconds)
                    continue
                }
            }
            if !more { context.sleep(Self.pollSeconds) }
        }
        // Stopping: save what was read. Safe even if the lock is already released: the flush
        // only applies on top of the cursor this tail started from.
        if let t = tail { _ = flush(t, now: Self.now()) }
        session.close()
    }

    private func recordError(_ session: DatabaseSession, type: String, message: String) {
        _ = try? session.run { db in
            try db.query("INSERT INTO ops.system_errors (service, type, message) VALUES ('access_log', $1, $2)",
                         [type, String(message.prefix(1000))])
        }
    }

    static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }
}

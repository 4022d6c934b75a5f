import OpsActivity
import OpsBeacon
import OpsJSON
import OpsLog
import OpsPostgres
#if canImport(Glibc)
import Glibc
#endif

/// A worker process's browser-report queue: accept threads `offer` reports (answered 204 at
/// once), one flusher thread writes them to the ring buffer in batches — one statement per
/// batch (`FrontendLogStore.write`) when `batchReports` wait or the oldest has waited the
/// flush interval. Shared by all accept threads of the process; all state behind one mutex.
///
/// Failures: while Postgres is unreachable the flusher keeps its batch and retries (pausing
/// 0.1 s, growing to 1 s), the queue fills, and reports beyond its cap are refused
/// (`queue_full`). A batch Postgres refuses for its data is written report by report; a
/// report refused alone is dropped and counted (`store_failed`).
///
/// Shutdown: `drain` (after the accept threads have stopped) makes the flusher write
/// everything queued at once and waits for it up to a deadline.
public final class FrontendLogQueue: @unchecked Sendable {
    private var buffer: BeaconBuffer
    private var mutex = pthread_mutex_t()
    private var cond = pthread_cond_t()
    private var stopping = false
    private var drainDeadline = Double.infinity
    private var flusherDone = false
    private let session: DatabaseSession
    private let logger: Logger

    public init(limits: BeaconBuffer.Limits, perFingerprintPerMinute: Int, session: DatabaseSession, logger: Logger) {
        self.buffer = BeaconBuffer(limits: limits, perFingerprintPerMinute: perFingerprintPerMinute)
        self.session = session
        self.logger = logger
        pthread_mutex_init(&mutex, nil)
        pthread_cond_init(&cond, nil)
    }

    deinit {
        pthread_cond_destroy(&cond)
        pthread_mutex_destroy(&mutex)
    }

    /// Queues a validated report (or refuses it, counted). Never blocks on the database.
    public func offer(_ report: BeaconReport, bytes: Int) -> BeaconAdmission {
        let now = UTCTime.now().micros
        pthread_mutex_lock(&mutex)
        let admission = buffer.offer(report, bytes: bytes, nowMicros: now)
        // The flusher sleeps until the oldest report's deadline, or without one when nothing
        // waits: wake it for the first report, when a batch is full, and for a refusal (its
        // count may be the only thing waiting).
        let waiting = buffer.queuedReports
        if admission != .accepted || waiting == 1 || waiting == buffer.limits.batchReports {
            pthread_cond_broadcast(&cond)
        }
        pthread_mutex_unlock(&mutex)
        return admission
    }

    /// Counts a report refused before it reached the queue (the parser's reasons).
    public func countDrop(_ reason: String) {
        let now = UTCTime.now().micros
        pthread_mutex_lock(&mutex)
        buffer.countDrop(reason, nowMicros: now)
        pthread_cond_broadcast(&cond)
        pthread_mutex_unlock(&mutex)
    }

    /// Reports waiting (not counting a batch being written).
    public var queuedReports: Int {
        pthread_mutex_lock(&mutex); defer { pthread_mutex_unlock(&mutex) }
        return buffer.queuedReports
    }

    /// The flusher thread's body: returns after `drain` once the queue is empty (or the
    /// drain deadline has passed).
    public func runFlusher() {
        pthread_mutex_lock(&mutex)
        while true {
            guard waitForFlush() else { break }
            let batch = buffer.takeBatch()
            pthread_mutex_unlock(&mutex)
            let totals = write(batch)
            pthread_mutex_lock(&mutex)
            buffer.committed(batch, totals: totals)
        }
        flusherDone = true
        pthread_cond_broadcast(&cond)
        pthread_mutex_unlock(&mutex)
        session.close()
    }

    /// With the mutex held: waits until a flush is due (true) or the queue is stopped and
    /// empty, or past the drain deadline (false).
    private func waitForFlush() -> Bool {
        while true {
            let due = buffer.flushDueMicros()
            if stopping {
                if due == nil { return false }
                if Self.monotonic() >= drainDeadline {
                    logger.error("beacon reports lost: the queue could not be written before the shutdown deadline",
                                 [("reports", .int(Int64(buffer.queuedReports)))])
                    return false
                }
                return true
            }
            guard let due else {
                pthread_cond_wait(&cond, &mutex)
                continue
            }
            if UTCTime.now().micros >= due { return true }
            var until = timespec(tv_sec: Int(due / 1_000_000), tv_nsec: Int(due % 1_000_000) * 1000)
            pthread_cond_timedwait(&cond, &mutex, &until)
        }
    }

    /// Stops taking the interval into account: everything queued is written at once. Waits
    /// for the flusher to finish, at most `seconds`; returns the reports left unwritten.
    @discardableResult
    public func drain(seconds: Double) -> Int {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        let started = Self.monotonic()
        stopping = true
        drainDeadline = started + seconds
        let queued = buffer.queuedReports
        pthread_cond_broadcast(&cond)
        while !flusherDone && Self.monotonic() < drainDeadline {
            let wake = UTCTime.now().micros + 50_000
            var until = timespec(tv_sec: Int(wake / 1_000_000), tv_nsec: Int(wake % 1_000_000) * 1000)
            pthread_cond_timedwait(&cond, &mutex, &until)
        }
        let left = buffer.queuedReports
        logger.info("beacon queue drained", [("queued", .int(Int64(queued))), ("left", .int(Int64(left))),
                                             ("dur_ms", .double(((Self.monotonic() - started) * 1e6).rounded() / 1e3))])
        return left
    }

    // MARK: writing

    private var lastTrim = 0.0

    /// Writes a batch: retried while Postgres is unreachable; split into single reports when
    /// Postgres refuses it. Returns the shared budget counts (empty when nothing was written).
    private func write(_ batch: BeaconBatch) -> [BudgetDelta] {
        if Self.monotonic() - lastTrim > 60 {
            lastTrim = Self.monotonic()
            try? FrontendLogStore(connection: try session.connection()).trimFingerprintBudget()
        }
        do {
            return try writeRetrying(batch)
        } catch let error as PGError where error.isUnavailable {
            lost(batch, error)
            return []
        } catch {
            guard !batch.reports.isEmpty else {
                logger.error("beacon drop counts not written", [("error", .string("\(error)"))])
                return []
            }
            logger.error("beacon batch refused by Postgres; writing its reports one by one",
                         [("reports", .int(Int64(batch.reports.count))), ("error", .string("\(error)"))])
        }
        var totals: [BudgetDelta] = []
        var failed: Int64 = 0
        for q in batch.reports {
            let one = BeaconBatch(reports: [q], drops: [], budget: FingerprintBudget.deltas(of: [q]))
            do {
                totals += try writeRetrying(one)
            } catch let error as PGError where error.isUnavailable {
                lost(BeaconBatch(reports: [q], drops: [], budget: []), error)
            } catch {
                failed += 1
                logger.error("beacon report dropped: Postgres refused it",
                             [("route", .string(q.report.route)), ("fingerprint", .string(q.report.fingerprint)),
                              ("error", .string("\(error)"))])
            }
        }
        var rest = BeaconBatch(reports: [], drops: batch.drops, budget: [])
        if failed > 0 { rest.drops.append((reason: "store_failed", count: failed)) }
        if !rest.drops.isEmpty {
            do { _ = try writeRetrying(rest) } catch {
                logger.error("beacon drop counts not written", [("error", .string("\(error)"))])
            }
        }
        return totals
    }

    /// Postgres stayed unreachable past the drain deadline.
    private func lost(_ batch: BeaconBatch, _ error: PGError) {
        logger.error("beacon reports lost: Postgres unreachable until the shutdown deadline",
                     [("reports", .int(Int64(batch.reports.count))),
                      ("drops", .int(batch.drops.reduce(0) { $0 + $1.count })), ("error", .string(error.description))])
    }

    /// Retries while the database is unavailable; throws a refusal by Postgres, or the
    /// unavailability once past the drain deadline.
    private func writeRetrying(_ batch: BeaconBatch) throws -> [BudgetDelta] {
        var pause = 0.1
        var logged = false
        while true {
            do {
                return try FrontendLogStore(connection: try session.connection()).write(batch)
            } catch let error as PGError where error.isUnavailable {
                if !logged {
                    logger.warn("beacon queue waiting for Postgres", [("error", .string(error.description)),
                                                                      ("reports", .int(Int64(batch.reports.count)))])
                    logged = true
                }
                if isPastDrainDeadline() { throw error }
                usleep(useconds_t(pause * 1e6))
                pause = min(1.0, pause * 2)
            }
        }
    }

    private func isPastDrainDeadline() -> Bool {
        pthread_mutex_lock(&mutex); defer { pthread_mutex_unlock(&mutex) }
        return stopping && Self.monotonic() >= drainDeadline
    }

    static func monotonic() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }
}

import Foundation
import OpsJSON
import OpsLedger
import OpsLog
import OpsMonitorCore
import OpsPostgres

/// Writes probe results in batches: every second, all results since the last flush go out as
/// one INSERT into ops.probe_samples, one upsert into ops.service_status (the newest result per
/// service) and the ops.system_errors rows of services that went down, each statement carrying
/// whole columns as arrays (unnest), in one transaction. 1,000 services at 30 s are ~33 rows a
/// second: three statements instead of 66 round-trips. Only an active monitor writes.
final class HealthWriter {
    /// Results kept while the database is unreachable; beyond this the oldest are dropped.
    static let maxPending = 50_000

    private let context: MonitorContext
    private let db: DatabaseSession
    private let lock = NSCondition()
    private var pending: [ProbeOutcomeRecord] = []
    private var state: [String: JSON] = [:]
    private var dropped = 0
    private var running = true
    private var finished = false

    init(context: MonitorContext) {
        self.context = context
        db = context.makeDatabase("health-writer")
    }

    func enqueue(_ record: ProbeOutcomeRecord) {
        var record = record
        // A NUL would end the C string of the whole array parameter.
        record.message = record.message.map { $0.replacingOccurrences(of: "\u{0}", with: "") }
        lock.lock()
        pending.append(record)
        if pending.count > Self.maxPending {
            dropped += pending.count - Self.maxPending
            pending.removeFirst(pending.count - Self.maxPending)
        }
        lock.unlock()
    }

    /// A row of ops.monitor_state to upsert with the next flush.
    func setState(_ key: String, _ value: JSON) {
        lock.lock(); state[key] = value; lock.unlock()
    }

    func start() {
        let t = Thread { [self] in loop() }
        t.name = "monitor-health-writer"
        t.stackSize = 1 << 20
        t.start()
    }

    /// Flushes what is left (when this monitor was active) and stops the thread.
    func stop() {
        lock.lock()
        running = false
        lock.broadcast()
        let deadline = Date(timeIntervalSinceNow: 5)
        while !finished { if !lock.wait(until: deadline) { break } }
        lock.unlock()
    }

    private func loop() {
        var wasActive = false
        while true {
            lock.lock()
            if running { lock.wait(until: Date(timeIntervalSinceNow: 1)) }
            let stopping = !running
            lock.unlock()
            // After SIGTERM `isActive` is already false while the lock is still held for a
            // moment: the last batch of an active monitor still goes out.
            let active = context.isActive || (stopping && wasActive)
            if active { flush() } else { discard() }
            wasActive = context.isActive
            if stopping { break }
        }
        db.close()
        lock.lock(); finished = true; lock.broadcast(); lock.unlock()
    }

    private func discard() {
        lock.lock(); pending.removeAll(); state.removeAll(); lock.unlock()
    }

    private func flush() {
        lock.lock()
        let batch = pending, states = state, lost = dropped
        pending.removeAll(keepingCapacity: true)
        state.removeAll()
        dropped = 0
        lock.unlock()
        if lost > 0 { context.logger.warn("health writer dropped results while the database was unreachable", [("count", .int(Int64(lost)))]) }
        guard !batch.isEmpty || !states.isEmpty else { return }
        do {
            try db.run { c in try c.transaction { try write(c, batch, states) } }
        } catch let error as PGError where !error.isUnavailable {
            // The database refused the batch itself: retrying it would block every later write.
            context.logger.error("health writer: batch refused by the database; dropped",
                                 [("error", .string("\(error)")), ("results", .int(Int64(batch.count)))])
        } catch {
            context.logger.warn("health writer: write failed; retrying with the next flush",
                                [("error", .string("\(error)")), ("results", .int(Int64(batch.count)))])
            lock.lock()
            pending.insert(contentsOf: batch, at: 0)
            for (k, v) in states where state[k] == nil { state[k] = v }
            lock.unlock()
        }
    }

    private func write(_ c: PGConnection, _ batch: [ProbeOutcomeRecord], _ states: [String: JSON]) throws {
        if !batch.isEmpty {
            try c.query("""
                INSERT INTO ops.probe_samples (service, ts, status, ok, response_ms, message, metrics)
                SELECT service, to_timestamp(t), status, ok, response_ms, message, metrics
                FROM unnest($1::text[], $2::float8[], $3::text[], $4::boolean[], $5::float8[], $6::text[], $7::jsonb[])
                     AS x(service, t, status, ok, response_ms, message, metrics)
                ON CONFLICT (service, ts) DO NOTHING
                """, [HealthArray.literal(batch.map { $0.service }), HealthArray.literal(batch.map { $0.time }),
                      HealthArray.literal(batch.map { $0.status.rawValue }), HealthArray.literal(batch.map { $0.ok }),
                      HealthArray.literal(batch.map { $0.responseMillis }), HealthArray.literal(batch.map { $0.message }),
                      HealthArray.literal(batch.map { $0.metrics.serialized() })])
            // The newest result per service: an upsert may touch a row once per statement.
            var newest: [String: ProbeOutcomeRecord] = [:]
            for r in batch where (newest[r.service]?.time ?? -1) <= r.time { newest[r.service] = r }
            let latest = Array(newest.values)
            try c.query("""
                INSERT INTO ops.service_status AS s (service, status, response_ms, error_count, consecutive_failures, trend,
                                                     anomaly, message, metrics, checked_at, status_since)
                SELECT service, status, response_ms, error_count, consecutive_failures, trend, anomaly, message, metrics,
                       to_timestamp(t), to_timestamp(t)
                FROM unnest($1::text[], $2::text[], $3::float8[], $4::int[], $5::int[], $6::text[], $7::boolean[], $8::text[],
                            $9::jsonb[], $10::float8[])
                     AS x(service, status, response_ms, error_count, consecutive_failures, trend, anomaly, message, metrics, t)
                ON CONFLICT (service) DO UPDATE SET
                    status = EXCLUDED.status, response_ms = EXCLUDED.response_ms, error_count = EXCLUDED.error_count,
                    consecutive_failures = EXCLUDED.consecutive_failures, trend = EXCLUDED.trend, anomaly = EXCLUDED.anomaly,
                    message = EXCLUDED.message, metrics = EXCLUDED.metrics, checked_at = EXCLUDED.checked_at,
                    status_since = CASE WHEN s.status = EXCLUDED.status THEN s.status_since ELSE EXCLUDED.status_since END
                WHERE s.checked_at IS NULL OR s.checked_at <= EXCLUDED.checked_at
                """, [HealthArray.literal(latest.map { $0.service }), HealthArray.literal(latest.map { $0.status.rawValue }),
                      HealthArray.literal(latest.map { $0.responseMillis }), HealthArray.literal(latest.map { Int64($0.errorCount) }),
                      HealthArray.literal(latest.map { Int64($0.consecutiveFailures) }), HealthArray.literal(latest.map { $0.trend.rawValue }),
                      HealthArray.literal(latest.map { $0.anomaly }), HealthArray.literal(latest.map { $0.message }),
                      HealthArray.literal(latest.map { $0.metrics.serialized() }), HealthArray.literal(latest.map { $0.time })])
            let downs = batch.filter { $0.becameDown != nil }
            if !downs.isEmpty {
                try c.query("""
                    INSERT INTO ops.system_errors (ts, service, type, message)
                    SELECT to_timestamp(t), service, type, message
                    FROM unnest($1::float8[], $2::text[], $3::text[], $4::text[]) AS x(t, service, type, message)
                    """, [HealthArray.literal(downs.map { $0.time }), HealthArray.literal(downs.map { $0.service }),
                          HealthArray.literal(downs.map { $0.becameDown!.type }),
                          HealthArray.literal(downs.map { String($0.becameDown!.message.prefix(1000)) })])
            }
        }
        for (key, value) in states.sorted(by: { $0.key < $1.key }) {
            try c.query("""
                INSERT INTO ops.monitor_state (key, value, updated_at) VALUES ($1, $2::jsonb, now())
                ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_at = now()
                """, [key, value.serialized()])
        }
    }
}

/// The ledger's array literals (one parameter carries a whole column of a bulk statement).
typealias HealthArray = PGArray

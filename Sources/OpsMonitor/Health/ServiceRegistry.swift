import Foundation
import OpsJSON
import OpsLedger
import OpsLog
import OpsMonitorCore
import OpsPostgres

/// ops.monitor_services as the active monitor sees it. On activation: the configured services
/// are upserted (targets with credentials redacted) and marked active, services never probed
/// get an `unknown` status row, and each service's recent samples and last status are loaded,
/// so that error counts, trends and baselines continue across a restart or a takeover.
///
/// Services this monitor registered (same OPS_MONITOR_LOCK, column monitor_lock) that are no
/// longer configured are marked inactive once nobody probes them: no check (and
/// no registration) for two of their intervals + their timeout + 10 s — at activation, and
/// every minute with a floor of 10 minutes. The grace keeps a second monitor with its own lock
/// and services sharing the database (tests, a staging monitor) from switching off the other's
/// services; a restarted monitor retires a service that was just removed from its file within
/// ten minutes. Every minute the configured services are also marked active again, should
/// another monitor have retired them.
final class ServiceRegistry {
    static let sweepSeconds = 60.0
    /// The periodic sweep leaves services alone that were checked or registered this recently.
    static let sweepFloorSeconds = 600.0
    private let context: MonitorContext
    private let db: DatabaseSession

    init(context: MonitorContext) {
        self.context = context
        db = context.makeDatabase("health-registry")
    }

    /// Returns false when the database could not be reached (the caller retries).
    func activate(_ states: [ProbeServiceState]) -> Bool {
        let configs = states.map(\.config)
        let names = HealthArray.literal(configs.map(\.name))
        do {
            try db.run { c in
                try c.transaction {
                    try c.query("""
                        INSERT INTO ops.monitor_services AS m (name, kind, target, interval_s, timeout_ms, thresholds, active,
                                                               updated_at, monitor_lock)
                        SELECT name, kind, target, interval_s, timeout_ms, thresholds, true, now(), $7
                        FROM unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::int[], $6::jsonb[])
                             AS x(name, kind, target, interval_s, timeout_ms, thresholds)
                        ON CONFLICT (name) DO UPDATE SET kind = EXCLUDED.kind, target = EXCLUDED.target,
                            interval_s = EXCLUDED.interval_s, timeout_ms = EXCLUDED.timeout_ms,
                            thresholds = EXCLUDED.thresholds, active = true, updated_at = now(),
                            monitor_lock = EXCLUDED.monitor_lock
                        """, [names, HealthArray.literal(configs.map(\.kind.rawValue)),
                              HealthArray.literal(configs.map { TargetRedaction.redact($0.target) }),
                              HealthArray.literal(configs.map { Int64($0.intervalSeconds.rounded(.up)) }),
                              HealthArray.literal(configs.map { Int64($0.timeoutMillis) }),
                              HealthArray.literal(configs.map { $0.thresholdsJSON.serialized() }),
                              context.config.monitorLockName])
                    try c.query("""
                        INSERT INTO ops.service_status (service, status, status_since)
                        SELECT name, 'unknown', now() FROM unnest($1::text[]) AS x(name)
                        ON CONFLICT (service) DO NOTHING
                        """, [names])
                }
            }
            try retire(states, floorSeconds: 0)
            try restore(states)
            return true
        } catch {
            context.logger.warn("cannot register the monitored services; retrying", [("error", .string("\(error)"))])
            return false
        }
    }

    func sweep(_ states: [ProbeServiceState]) {
        do {
            try db.run { c in
                try c.query("UPDATE ops.monitor_services SET active = true, updated_at = now() WHERE name = ANY ($1::text[]) AND NOT active",
                            [HealthArray.literal(states.map(\.config.name))])
            }
            try retire(states, floorSeconds: Self.sweepFloorSeconds)
        } catch {
            context.logger.warn("service sweep failed", [("error", .string("\(error)"))])
        }
    }

    private func retire(_ states: [ProbeServiceState], floorSeconds: Double) throws {
        let r = try db.run { c in
            try c.query("""
                WITH grace AS (
                    SELECT name, now() - make_interval(secs => greatest(2 * interval_s + timeout_ms / 1000.0 + 10, $2)) AS since
                    FROM ops.monitor_services WHERE active AND monitor_lock = $3 AND NOT (name = ANY ($1::text[])))
                UPDATE ops.monitor_services m SET active = false, updated_at = now()
                FROM grace g
                WHERE m.name = g.name AND m.updated_at < g.since
                  AND NOT EXISTS (SELECT 1 FROM ops.service_status s WHERE s.service = m.name AND s.checked_at > g.since)
                RETURNING m.name
                """, [HealthArray.literal(states.map(\.config.name)), String(floorSeconds), context.config.monitorLockName])
        }
        if r.rowCount > 0 {
            let names = (0..<r.rowCount).compactMap { r.string($0, 0) }
            context.logger.info("services no longer configured marked inactive", [("services", .array(names.map { .string($0) }))])
        }
    }

    /// Recent samples per service (the last hour, at least the anomaly baseline's worth), read
    /// through the primary key index one service at a time (LATERAL … LIMIT).
    private func restore(_ states: [ProbeServiceState]) throws {
        var limits: [Int64] = []
        for s in states {
            let keep = ServiceHistory.forInterval(s.config.intervalSeconds)
            limits.append(Int64(max(Double(keep.minimumKept), (keep.keepSeconds / s.config.intervalSeconds).rounded(.up) + 1)))
        }
        let (samples, statuses) = try db.run { c -> ([String: [ProbeSample]], [String: HealthStatus]) in
            let r = try c.query("""
                SELECT x.name, extract(epoch FROM p.ts)::float8 AS t, p.ok, p.response_ms
                FROM unnest($1::text[], $2::int[]) AS x(name, n)
                CROSS JOIN LATERAL (
                    SELECT ts, ok, response_ms, status FROM ops.probe_samples
                    WHERE service = x.name AND ts > now() - interval '1 day'
                    ORDER BY ts DESC LIMIT x.n) p
                WHERE p.status <> 'unknown'
                """, [HealthArray.literal(states.map(\.config.name)), HealthArray.literal(limits.map { Optional($0) })])
            var samples: [String: [ProbeSample]] = [:]
            for i in 0..<r.rowCount {
                guard let name = r.string(i, "name"), let t = r.double(i, "t") else { continue }
                let ok = r.bool(i, "ok") ?? false
                samples[name, default: []].append(ProbeSample(time: t, ok: ok, responseMillis: ok ? r.double(i, "response_ms") : nil))
            }
            let s = try c.query("SELECT service, status FROM ops.service_status WHERE service = ANY ($1::text[])",
                                [HealthArray.literal(states.map(\.config.name))])
            var statuses: [String: HealthStatus] = [:]
            for i in 0..<s.rowCount {
                if let name = s.string(i, 0), let st = s.string(i, 1).flatMap(HealthStatus.init(rawValue:)) { statuses[name] = st }
            }
            return (samples, statuses)
        }
        for s in states {
            let status = statuses[s.config.name]
            s.restore(samples: samples[s.config.name] ?? [], lastStatus: status == .unknown ? nil : status)
        }
        context.logger.info("monitored services registered", [("services", .int(Int64(states.count))),
                                                               ("samples_restored", .int(Int64(samples.values.reduce(0) { $0 + $1.count })))])
    }
}

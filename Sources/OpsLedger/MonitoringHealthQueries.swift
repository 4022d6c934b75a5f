import OpsActivity
import OpsJSON
import OpsPostgres

/// Reads behind `/api/monitoring/health`, `/health/module/{name}` and `/operator/system/health`:
/// what the monitor stored (ops.monitor_services, ops.service_status, probe samples and
/// rollups, open alerts). A fixed number of statements per answer, never one per service, so
/// 1,000 services cost what 10 do plus the rows themselves.
public struct MonitoringHealthQueries {
    /// No heartbeat of an active monitor for this long: statuses may be out of date. The
    /// monitor beats every 2 s.
    public static let monitorStaleSeconds: Double = 15
    /// Known names listed with a 404 for an unknown module.
    public static let knownNamesLimit = 50

    let db: PGConnection

    public init(connection: PGConnection) { self.db = connection }

    // MARK: the monitor itself

    /// `{"active_instance","heartbeat_at","age_s","stale"}` and a warning when stale.
    public func monitorHeartbeat(now: UTCTime, warnings: inout [String]) throws -> JSON {
        let r = try db.query("""
            SELECT instance, \(micros("heartbeat_at")) FROM ops.monitor_instances
            WHERE active ORDER BY heartbeat_at DESC LIMIT 1
            """)
        let instance = r.rowCount > 0 ? r.string(0, 0) : nil
        let beat = r.rowCount > 0 ? r.time(0, 1) : nil
        let age = beat.map { ageSeconds(now, $0) }
        let stale = age.map { $0 > Self.monitorStaleSeconds } ?? true
        if stale {
            let last = beat.map { "last heartbeat \($0.iso8601), \(Int(age ?? 0)) s ago" } ?? "no active monitor has ever reported"
            warnings.append("No active monitor has reported in the last \(Int(Self.monitorStaleSeconds)) s (\(last)): statuses may be out of date. Is `opsplane monitor` running?")
        }
        return ["active_instance": .from(instance), "heartbeat_at": .from(beat?.iso8601), "age_s": .from(age), "stale": .bool(stale)]
    }

    // MARK: /api/monitoring/health

    public func health(now: UTCTime) throws -> JSON {
        let r = try db.query("""
            SELECT m.name, m.kind, s.status, s.response_ms, s.error_count, s.trend, s.anomaly,
                   \(micros("s.checked_at")), s.message, coalesce(a.open, 0)
            FROM ops.monitor_services m
            LEFT JOIN ops.service_status s ON s.service = m.name
            LEFT JOIN (SELECT service, count(*) AS open FROM ops.alerts
                       WHERE state IN ('firing', 'acknowledged') AND service IS NOT NULL
                       GROUP BY service) a ON a.service = m.name
            WHERE m.active
            ORDER BY m.name
            """)
        var modules: [(key: String, value: JSON)] = []
        modules.reserveCapacity(r.rowCount)
        var statuses: [ServiceHealth] = []
        statuses.reserveCapacity(r.rowCount)
        for i in 0..<r.rowCount {
            let known = r.string(i, 2) != nil
            let status = ServiceHealth(stored: r.string(i, 2))
            statuses.append(status)
            modules.append((key: r.string(i, 0) ?? "", value: [
                "status": .string(status.rawValue),
                "response_time_ms": .from(r.double(i, 3).map { Rounded.to(2, $0) }),
                "error_count": .int(r.int(i, 4) ?? 0),
                "kind": .from(r.string(i, 1)),
                "trend": known ? .from(r.string(i, 5)) : .null,
                "anomaly": .bool(r.bool(i, 6) ?? false),
                "checked_at": .from(r.time(i, 7)?.iso8601),
                "message": .from(r.string(i, 8)),
                "active_alerts": .int(r.int(i, 9) ?? 0),
            ]))
        }
        var warnings: [String] = []
        let monitor = try monitorHeartbeat(now: now, warnings: &warnings)
        let counts = Self.counts(statuses)
        if statuses.isEmpty {
            warnings.append("No services are configured yet: ops.monitor_services is empty until a monitor starts with a configuration that lists services.")
        } else if let unknown = counts["unknown"]?.intValue, unknown > 0 {
            warnings.append("\(unknown) of \(statuses.count) service(s) have no status yet (not probed since the monitor started).")
        }
        return [
            "status": .string(ServiceHealth.overall(statuses).rawValue),
            "timestamp": .string(now.iso8601),
            "modules": .object(JSONObject(modules)),
            "counts": counts,
            "monitor": monitor,
            "warnings": .array(warnings.map(JSON.string)),
        ]
    }

    static func counts(_ statuses: [ServiceHealth]) -> JSON {
        var n: [ServiceHealth: Int64] = [:]
        for s in statuses { n[s, default: 0] += 1 }
        return .object(JSONObject([ServiceHealth.healthy, .degraded, .down, .unknown].map { (key: $0.rawValue, value: JSON.int(n[$0] ?? 0)) }))
    }

    // MARK: /api/monitoring/health/module/{name}

    /// nil when no service has this name (the caller answers 404 with `knownNames()`).
    public func module(name: String, range: MonitoringRange, now: UTCTime) throws -> JSON? {
        let r = try db.query("""
            SELECT m.kind, m.target, m.interval_s, m.timeout_ms, m.thresholds::text, m.active, \(micros("m.updated_at")),
                   s.status, s.response_ms, s.error_count, s.consecutive_failures, s.trend, s.anomaly, s.message,
                   s.metrics::text, \(micros("s.checked_at")), \(micros("s.status_since"))
            FROM ops.monitor_services m LEFT JOIN ops.service_status s ON s.service = m.name
            WHERE m.name = $1
            """, [name])
        guard r.rowCount == 1 else { return nil }
        let hasStatus = r.string(0, 7) != nil
        let config: JSON = [
            "kind": .from(r.string(0, 0)),
            "target": .from(r.string(0, 1).map(TargetRedaction.redact)),
            "interval_s": .from(r.int(0, 2)),
            "timeout_ms": .from(r.int(0, 3)),
            "thresholds": parsedJSON(r.string(0, 4)) ?? .object(JSONObject()),
            "active": .bool(r.bool(0, 5) ?? false),
            "updated_at": .from(r.time(0, 6)?.iso8601),
        ]
        let status: JSON = [
            "status": .string(ServiceHealth(stored: r.string(0, 7)).rawValue),
            "response_time_ms": .from(r.double(0, 8).map { Rounded.to(2, $0) }),
            "error_count": .int(r.int(0, 9) ?? 0),
            "consecutive_failures": .int(r.int(0, 10) ?? 0),
            "trend": hasStatus ? .from(r.string(0, 11)) : .null,
            "anomaly": .bool(r.bool(0, 12) ?? false),
            "message": .from(r.string(0, 13)),
            "checked_at": .from(r.time(0, 15)?.iso8601),
            "status_since": hasStatus ? .from(r.time(0, 16)?.iso8601) : .null,
        ]
        var warnings: [String] = []
        if !hasStatus { warnings.append("This service has no status yet (not probed since the monitor started).") }
        let series = range.usesHourlyRollups ? try hourlySeries(name, range: range, now: now)
                                             : try rawSeries(name, range: range, now: now)
        if series.points.isEmpty { warnings.append("No probe results in the last \(range.rawValue).") }
        return [
            "name": .string(name),
            "config": config,
            "status": status,
            "metrics": parsedJSON(r.string(0, 14)) ?? .object(JSONObject()),
            "range": .string(range.rawValue),
            "resolution": .string(range.usesHourlyRollups ? "hour" : "raw"),
            "summary": series.summary,
            "series": .array(series.points),
            "alerts": try openAlerts(service: name),
            "warnings": .array(warnings.map(JSON.string)),
        ]
    }

    /// Names of active services, sorted, for the 404 of an unknown module.
    public func knownNames(limit: Int = MonitoringHealthQueries.knownNamesLimit) throws -> [String] {
        let r = try db.query("SELECT name FROM ops.monitor_services WHERE active ORDER BY name LIMIT $1", [String(limit)])
        return (0..<r.rowCount).compactMap { r.string($0, 0) }
    }

    /// Every probe result in the range (1h, 6h): `{ts,status,ok,response_ms}`.
    func rawSeries(_ name: String, range: MonitoringRange, now: UTCTime) throws -> (points: [JSON], summary: JSON) {
        let r = try db.query("""
            SELECT \(micros("ts")), status, ok, response_ms FROM ops.probe_samples
            WHERE service = $1 AND ts > $2 AND ts <= $3 ORDER BY ts
            """, [name, now.adding(seconds: -range.seconds).sql, now.sql])
        var failures: Int64 = 0, sum = 0.0, timed: Int64 = 0, maxMs: Double?
        let points: [JSON] = (0..<r.rowCount).map { i in
            let ok = r.bool(i, 2) ?? false
            if !ok { failures += 1 }
            let ms = r.double(i, 3)
            if let ms { sum += ms; timed += 1; maxMs = max(maxMs ?? ms, ms) }
            return ["ts": .from(r.time(i, 0)?.iso8601), "status": .from(r.string(i, 1)), "ok": .bool(ok),
                    "response_ms": .from(ms.map { Rounded.to(2, $0) })]
        }
        return (points, Self.summary(samples: Int64(r.rowCount), failures: failures,
                                     avg: timed > 0 ? sum / Double(timed) : nil, max: maxMs))
    }

    /// Hourly points (24h, 7d): the monitor's hourly rollups, and for the hours it has not
    /// rolled up yet (the current one at least) the same aggregates over the raw samples.
    /// `{ts,samples,failures,avg_ms,max_ms,p95_ms,partial}`; partial = computed from raw samples.
    func hourlySeries(_ name: String, range: MonitoringRange, now: UTCTime) throws -> (points: [JSON], summary: JSON) {
        let start = now.adding(seconds: -range.seconds).startOfHour
        let r = try db.query("""
            WITH rolled AS (
                SELECT bucket, samples, failures, avg_ms, max_ms, p95_ms FROM ops.probe_rollups
                WHERE grain = 'hour' AND service = $1 AND bucket >= $2 AND bucket <= $3
            )
            SELECT \(micros("bucket")), samples, failures, avg_ms, max_ms, p95_ms, false FROM rolled
            UNION ALL
            SELECT \(micros("date_trunc('hour', ts)")), count(*), count(*) FILTER (WHERE NOT ok), avg(response_ms),
                   max(response_ms), percentile_cont(0.95) WITHIN GROUP (ORDER BY response_ms), true
            FROM ops.probe_samples
            WHERE service = $1 AND ts <= $3
              AND ts >= coalesce((SELECT max(bucket) FROM rolled) + interval '1 hour', $2::timestamptz)
            GROUP BY 1
            ORDER BY 1
            """, [name, start.sql, now.sql])
        var samples: Int64 = 0, failures: Int64 = 0, weighted = 0.0, timedSamples: Int64 = 0, maxMs: Double?
        let points: [JSON] = (0..<r.rowCount).map { i in
            let n = r.int(i, 1) ?? 0, f = r.int(i, 2) ?? 0
            samples += n; failures += f
            if let avg = r.double(i, 3) { weighted += avg * Double(n); timedSamples += n }
            if let m = r.double(i, 4) { maxMs = max(maxMs ?? m, m) }
            return ["ts": .from(r.time(i, 0)?.iso8601), "samples": .int(n), "failures": .int(f),
                    "avg_ms": .from(r.double(i, 3).map { Rounded.to(2, $0) }), "max_ms": .from(r.double(i, 4).map { Rounded.to(2, $0) }),
                    "p95_ms": .from(r.double(i, 5).map { Rounded.to(2, $0) }), "partial": .bool(r.bool(i, 6) ?? false)]
        }
        return (points, Self.summary(samples: samples, failures: failures,
                                     avg: timedSamples > 0 ? weighted / Double(timedSamples) : nil, max: maxMs))
    }

    static func summary(samples: Int64, failures: Int64, avg: Double?, max: Double?) -> JSON {
        ["samples": .int(samples), "failures": .int(failures),
         "uptime_pct": .from(Rounded.percent(Double(samples - failures), of: Double(samples))),
         "avg_ms": .from(avg.map { Rounded.to(2, $0) }), "max_ms": .from(max.map { Rounded.to(2, $0) })]
    }

    /// Alerts of this service that are not resolved, newest first.
    func openAlerts(service: String) throws -> JSON {
        let r = try db.query("""
            SELECT id, rule, severity, state, title, value, threshold, \(micros("first_fired_at")), \(micros("last_fired_at")),
                   fire_count, \(micros("acknowledged_at")), acknowledged_by, ack_note
            FROM ops.alerts WHERE state IN ('firing', 'acknowledged') AND service = $1
            ORDER BY last_fired_at DESC, id DESC LIMIT 50
            """, [service])
        return .array((0..<r.rowCount).map { i in
            ["id": .from(r.int(i, 0)), "rule": .from(r.string(i, 1)), "severity": .from(r.string(i, 2)),
             "state": .from(r.string(i, 3)), "title": .from(r.string(i, 4)), "value": .from(r.double(i, 5)),
             "threshold": .from(r.double(i, 6)), "first_fired_at": .from(r.time(i, 7)?.iso8601),
             "last_fired_at": .from(r.time(i, 8)?.iso8601), "fire_count": .from(r.int(i, 9)),
             "acknowledged_at": .from(r.time(i, 10)?.iso8601), "acknowledged_by": .from(r.string(i, 11)),
             "ack_note": .from(r.string(i, 12))]
        })
    }

    // MARK: /operator/system/health

    /// The seed's `{status, components:{name:{status, latency_ms, …}}, checked_at}`: each
    /// service with the figures of its kind (connections for Postgres, clients for Redis,
    /// queue depth for heartbeats of queues, the status code for HTTP).
    public func operatorHealth(now: UTCTime) throws -> JSON {
        let r = try db.query("""
            SELECT m.name, m.kind, s.status, s.response_ms, \(micros("s.checked_at")), s.message,
                   s.metrics->'connections', s.metrics->'max_connections', s.metrics->'db_size_bytes',
                   s.metrics->'connected_clients', s.metrics->'used_memory_bytes', s.metrics->'status_code',
                   s.metrics->'components', s.metrics->'stale',
                   CASE WHEN jsonb_typeof(s.metrics->'members') = 'array' THEN
                       (SELECT sum((e->'metrics'->>'depth')::numeric) FROM jsonb_array_elements(s.metrics->'members') e
                        WHERE jsonb_typeof(e->'metrics'->'depth') = 'number')
                   END
            FROM ops.monitor_services m LEFT JOIN ops.service_status s ON s.service = m.name
            WHERE m.active ORDER BY m.name
            """)
        var components: [(key: String, value: JSON)] = []
        components.reserveCapacity(r.rowCount)
        var statuses: [ServiceHealth] = []
        var newest: UTCTime?
        for i in 0..<r.rowCount {
            let status = ServiceHealth(stored: r.string(i, 2))
            statuses.append(status)
            let checked = r.time(i, 4)
            if let c = checked, newest == nil || c > newest! { newest = c }
            var c = JSONObject([("status", .string(status.rawValue)),
                                ("latency_ms", .from(r.double(i, 3).map { Rounded.to(2, $0) })),
                                ("kind", .from(r.string(i, 1))),
                                ("checked_at", .from(checked?.iso8601)),
                                ("message", .from(r.string(i, 5)))])
            func put(_ key: String, _ column: Int, _ transform: (Double) -> JSON = { jsonNumber($0) }) {
                if let v = r.string(i, column).flatMap(Double.init) { c[key] = transform(v) }
            }
            switch r.string(i, 1) {
            case "postgres":
                put("connections", 6); put("max_connections", 7)
                put("db_size_mb", 8) { .double(Rounded.mb($0)) }
            case "redis":
                put("connected_clients", 9)
                put("used_memory_mb", 10) { .double(Rounded.mb($0)) }
            case "http":
                put("status_code", 11)
            case "heartbeat":
                put("components", 12); put("stale_components", 13); put("queue_depth", 14)
            default:
                break
            }
            components.append((key: r.string(i, 0) ?? "", value: .object(c)))
        }
        var warnings: [String] = []
        let monitor = try monitorHeartbeat(now: now, warnings: &warnings)
        if statuses.isEmpty {
            warnings.append("No services are configured yet: ops.monitor_services is empty until a monitor starts with a configuration that lists services.")
        }
        let outbox = try db.query("""
            SELECT count(*), count(*) FILTER (WHERE last_error IS NOT NULL), \(micros("min(created_at)"))
            FROM ops.notification_outbox WHERE sent_at IS NULL
            """)
        let oldest = outbox.time(0, 2)
        return [
            "status": .string(ServiceHealth.overall(statuses).rawValue),
            "components": .object(JSONObject(components)),
            "checked_at": .from(newest?.iso8601),
            "counts": Self.counts(statuses),
            "monitor": monitor,
            "deliveries": ["pending": .int(outbox.int(0, 0) ?? 0), "failing": .int(outbox.int(0, 1) ?? 0),
                           "oldest_pending_s": .from(oldest.map { ageSeconds(now, $0) })],
            "timestamp": .string(now.iso8601),
            "warnings": .array(warnings.map(JSON.string)),
        ]
    }
}

// MARK: helpers shared by the monitoring queries

/// Seconds from `then` to `now`, one decimal.
func ageSeconds(_ now: UTCTime, _ then: UTCTime) -> Double {
    Rounded.to(1, Double(now.micros - then.micros) / 1e6)
}

/// A stored JSON text parsed; nil for SQL NULL or (never expected) invalid JSON.
func parsedJSON(_ text: String?) -> JSON? {
    text.flatMap { try? JSON.parse($0) }
}

/// A whole number as an integer, anything else as a double.
func jsonNumber(_ v: Double) -> JSON {
    v.rounded() == v && abs(v) < 9e15 ? .int(Int64(v)) : .double(v)
}

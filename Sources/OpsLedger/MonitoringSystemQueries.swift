import OpsActivity
import OpsJSON
import OpsPostgres

/// `/operator/system/metrics|capacity|aggregates|errors` (the Operator System Dashboard):
/// throughput from the ledger, the outbox and the monitor's per-minute access-log counts,
/// host capacity from the monitor's newest sample, platform counts, recent errors.
public struct MonitoringSystemQueries {
    /// A capacity sample is taken every 30 s; older than this, the answer says it is stale.
    public static let capacityStaleSeconds: Double = 120
    /// The access-log tail writes its cursor every few seconds while nginx logs requests;
    /// quieter than this, the API figures may lag.
    public static let tailStaleSeconds: Double = 180

    let db: PGConnection

    public init(connection: PGConnection) { self.db = connection }

    // MARK: /operator/system/metrics

    /// Rates over the last 60 s. Ledger figures use a rolling window [now-60 s, now]; API
    /// figures come from the newest complete minute of ops.api_minutes (the access log is
    /// counted per minute), static frontend files left out.
    /// - ingest_rate_per_sec: records (runs created, LLM calls, messages, heartbeats) whose own
    ///   timestamp falls in the window, per second;
    /// - event_rate_per_sec: ticker events appended (run started/finished, alerts, …);
    /// - alert_rate_per_sec: alerts raised for the first time; delivery_rate_per_sec:
    ///   notifications marked sent.
    /// `percentile(histogram, p)` reads latency percentiles from the summed bucket counts.
    public func metrics(now: UTCTime, percentile: ([Int64], Double) -> Double?) throws -> JSON {
        let windowStart = now.adding(seconds: -60)
        let c = try db.query("""
            SELECT (SELECT count(*) FROM ops.runs WHERE created_at > $1 AND created_at <= $2)
                 + (SELECT count(*) FROM ops.llm_calls WHERE ts > $1 AND ts <= $2)
                 + (SELECT count(*) FROM ops.messages WHERE created_at > $1 AND created_at <= $2)
                 + (SELECT count(*) FROM ops.heartbeat_samples WHERE ts > $1 AND ts <= $2),
                   (SELECT count(*) FROM ops.events WHERE ts > $1 AND ts <= $2),
                   (SELECT count(*) FROM ops.alerts WHERE first_fired_at > $1 AND first_fired_at <= $2),
                   (SELECT count(*) FROM ops.notification_outbox WHERE sent_at > $1 AND sent_at <= $2),
                   (SELECT \(micros("max(updated_at)")) FROM ops.access_log_cursor)
            """, [windowStart.sql, now.sql])
        let minute = UTCTime(seconds: now.seconds - now.seconds % 60 - 60)
        let api = try db.query("""
            WITH m AS (SELECT requests, errors, latency_hist FROM ops.api_minutes WHERE minute = $1 AND route_group <> 'static')
            SELECT coalesce(sum(requests), 0), coalesce(sum(errors), 0),
                   (SELECT array_agg(s ORDER BY i) FROM (SELECT u.i, sum(u.v) AS s
                    FROM m, unnest(m.latency_hist) WITH ORDINALITY AS u(v, i) GROUP BY u.i) x)
            FROM m
            """, [minute.sql])
        let requests = api.int(0, 0) ?? 0
        let histogram = api.string(0, 2).flatMap(PGIntArray.parse) ?? []
        var warnings: [String] = []
        tailWarning(c.time(0, 4), now: now, into: &warnings)
        if requests == 0 { warnings.append("No API requests were counted in the minute from \(minute.iso8601): request rate 0, latency null.") }
        func perSecond(_ n: Int64?) -> JSON { .double(Rounded.to(3, Double(n ?? 0) / 60)) }
        func ms(_ p: Double) -> JSON { .from(percentile(histogram, p).map { Rounded.to(2, $0) }) }
        return [
            "throughput": [
                "ingest_rate_per_sec": perSecond(c.int(0, 0)),
                "event_rate_per_sec": perSecond(c.int(0, 1)),
                "request_rate_per_sec": perSecond(requests),
                "alert_rate_per_sec": perSecond(c.int(0, 2)),
                "delivery_rate_per_sec": perSecond(c.int(0, 3)),
            ],
            "latency": ["api_p50_ms": ms(50), "api_p95_ms": ms(95), "api_p99_ms": ms(99)],
            "errors": ["api_5xx": .int(api.int(0, 1) ?? 0),
                       "api_error_rate": .double(Rounded.percent(Double(api.int(0, 1) ?? 0), of: Double(requests)) ?? 0)],
            "period": "last_60_seconds",
            "window": ["start": .string(windowStart.iso8601), "end": .string(now.iso8601)],
            "api_minute": .string(minute.iso8601),
            "warnings": .array(warnings.map(JSON.string)),
        ]
    }

    func tailWarning(_ cursorUpdated: UTCTime?, now: UTCTime, into warnings: inout [String]) {
        guard let t = cursorUpdated else {
            warnings.append("The monitor has not read the nginx access log yet (ops.access_log_cursor is empty): API request figures are 0.")
            return
        }
        let age = ageSeconds(now, t)
        if age > Self.tailStaleSeconds {
            warnings.append("The access-log tail last advanced \(Int(age)) s ago: API request figures may be behind.")
        }
    }

    // MARK: /operator/system/capacity

    /// The newest capacity sample in the seed's units (GB = 2^30 bytes, MB = 2^20) plus the
    /// Postgres figures read live.
    public func capacity(now: UTCTime) throws -> JSON {
        let r = try db.query("SELECT \(micros("ts")), disk::text, memory::text, load::text FROM ops.capacity_samples ORDER BY ts DESC LIMIT 1")
        let pg = try MonitoringDatabaseQueries(connection: db).capacity()
        var warnings: [String] = []
        let sampled = r.rowCount == 1 ? r.time(0, 0) : nil
        let shaped = Self.capacityShape(disk: parsedJSON(r.rowCount == 1 ? r.string(0, 1) : nil) ?? .null,
                                        memory: parsedJSON(r.rowCount == 1 ? r.string(0, 2) : nil) ?? .null,
                                        load: parsedJSON(r.rowCount == 1 ? r.string(0, 3) : nil) ?? .null)
        let age = sampled.map { ageSeconds(now, $0) }
        if sampled == nil {
            warnings.append("No capacity sample yet (the monitor samples disk, memory and load every 30 s): disk, memory and load are 0.")
        } else if let age, age > Self.capacityStaleSeconds {
            warnings.append("The newest capacity sample is \(Int(age)) s old: is the monitor running?")
        }
        return [
            "disk": shaped.disk,
            "memory": shaped.memory,
            "load": shaped.load,
            "postgres": ["db_size_mb": .double(Rounded.mb(pg.dbSizeBytes)), "connections_used": .int(pg.connections),
                         "connections_max": .int(pg.maxConnections),
                         "connections_pct": .double(Rounded.percent(Double(pg.connections), of: Double(pg.maxConnections)) ?? 0)],
            "sampled_at": .from(sampled?.iso8601),
            "age_s": .from(age),
            "warnings": .array(warnings.map(JSON.string)),
        ]
    }

    /// The monitor's sample (see the contract: disk.root, disk.directories, memory, load in
    /// bytes) in the seed's shape: `total_volume_gb`, `used_pct`, `<directory>_data_gb`, …
    /// Missing parts read 0 (a sample from an older monitor, or none at all).
    public static func capacityShape(disk: JSON, memory: JSON, load: JSON) -> (disk: JSON, memory: JSON, load: JSON) {
        func num(_ v: JSON?) -> Double { v?.doubleValue ?? 0 }
        let root = disk["root"] ?? .null
        var d = JSONObject([("total_volume_gb", .double(Rounded.gb(num(root["total_bytes"])))),
                            ("used_gb", .double(Rounded.gb(num(root["used_bytes"])))),
                            ("free_gb", .double(Rounded.gb(num(root["free_bytes"])))),
                            ("used_pct", .double(Rounded.to(2, num(root["used_pct"])))),
                            ("path", root["path"] ?? .null)])
        var directories: [JSON] = []
        for dir in disk["directories"]?.arrayValue ?? [] {
            guard let name = dir["name"]?.stringValue else { continue }
            d["\(name)_data_gb"] = .double(Rounded.gb(num(dir["size_bytes"])))
            directories.append(["name": .string(name), "path": dir["path"] ?? .null,
                                "size_gb": .double(Rounded.gb(num(dir["size_bytes"]))),
                                "filesystem_total_gb": .double(Rounded.gb(num(dir["total_bytes"]))),
                                "filesystem_free_gb": .double(Rounded.gb(num(dir["free_bytes"]))),
                                "filesystem_used_pct": .double(Rounded.to(2, num(dir["used_pct"])))])
        }
        d["directories"] = .array(directories)
        let m: JSON = ["total_gb": .double(Rounded.gb(num(memory["total_bytes"]))),
                       "used_gb": .double(Rounded.gb(num(memory["used_bytes"]))),
                       "available_gb": .double(Rounded.gb(num(memory["available_bytes"]))),
                       "used_pct": .double(Rounded.to(2, num(memory["used_pct"]))),
                       "monitor_rss_mb": .double(Rounded.mb(num(memory["monitor_rss_bytes"])))]
        let cpus = num(load["cpus"])
        let l: JSON = ["load1": .double(Rounded.to(2, num(load["load1"]))), "load5": .double(Rounded.to(2, num(load["load5"]))),
                       "load15": .double(Rounded.to(2, num(load["load15"]))), "cpus": jsonNumber(cpus),
                       "load1_per_cpu": cpus > 0 ? .double(Rounded.to(2, num(load["load1"]) / cpus)) : .double(0)]
        return (.object(d), m, l)
    }

    // MARK: /operator/system/aggregates

    /// Platform counts (UTC days). `summary` is today's cached summary answer (runs started
    /// today, active users, agents), which the answer cache keeps cheap at any data size; the
    /// rest is counted here on indexed or small tables. `running`/`queued`: runs in that state
    /// created in the last 24 h.
    public func aggregates(now: UTCTime, summary: JSON, discordEnabled: Bool, discordConfigured: Bool) throws -> JSON {
        let (d0, d1) = SeriesWindow.today.bounds(now: now)
        let r = try db.query("""
            SELECT (SELECT count(*) FROM ops.runs WHERE status = 'running' AND created_at > $3 AND created_at <= $4),
                   (SELECT count(*) FROM ops.runs WHERE status = 'queued' AND created_at > $3 AND created_at <= $4),
                   (SELECT count(*) FROM ops.runs WHERE status = 'failed' AND finished_at >= $1 AND finished_at < $2),
                   (SELECT count(*) FROM ops.alerts WHERE state IN ('firing', 'acknowledged')),
                   (SELECT count(*) FROM ops.alerts WHERE state = 'acknowledged'),
                   (SELECT count(*) FROM ops.alerts WHERE state = 'resolved' AND resolved_at >= $1 AND resolved_at < $2),
                   (SELECT count(*) FROM ops.alerts WHERE first_fired_at >= $1 AND first_fired_at < $2),
                   (SELECT count(*) FROM ops.api_tokens WHERE revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $4)),
                   (SELECT count(*) FROM ops.api_tokens WHERE revoked_at IS NOT NULL),
                   (SELECT count(*) FROM ops.api_tokens WHERE revoked_at IS NULL AND expires_at <= $4),
                   (SELECT count(*) FROM ops.notification_outbox WHERE sent_at > $3 AND sent_at <= $4),
                   (SELECT count(*) FROM ops.notification_outbox WHERE sent_at IS NULL),
                   (SELECT count(*) FROM ops.monitor_services WHERE active)
            """, [d0.sql, d1.sql, now.adding(seconds: -86_400).sql, now.sql])
        func n(_ c: Int) -> JSON { .int(r.int(0, c) ?? 0) }
        func s(_ key: String) -> JSON { .int(summary[key]?.intValue ?? 0) }
        return [
            "agents": ["total": s("agents_total"), "scheduled": s("agents_scheduled")],
            "runs": ["today": s("runs_today"), "running": n(0), "queued": n(1), "failed_today": n(2)],
            "users": ["active_24h": s("active_users_24h")],
            "alerts": ["open": n(3), "acknowledged": n(4), "closed_today": n(5), "triggered_today": n(6)],
            "tokens": ["active": n(7), "revoked": n(8), "expired": n(9)],
            "integrations": ["discord_enabled": .bool(discordEnabled), "discord_configured": .bool(discordConfigured),
                             "notifications_sent_24h": n(10), "notifications_pending": n(11)],
            "services": ["monitored": n(12)],
            "date": .string(now.dateString),
            "generated_at": summary["generated_at"] ?? .string(now.iso8601),
            "warnings": .array([]),
        ]
    }

    // MARK: /operator/system/errors

    /// The newest `limit` errors the monitor recorded (ops.system_errors), the notifications
    /// whose delivery is failing, and counts over the last hour:
    /// - probe_failures_1h: failed probes (ops.probe_samples, ok = false);
    /// - delivery_failures_1h: system errors whose type starts with "delivery";
    /// - auth_failures_1h: 401 and 403 answers in the access log;
    /// - ingest_failures_1h: 4xx and 5xx answers of POST /api/ops/ingest in the access log
    ///   (rejected records inside an accepted batch are not counted).
    public func errors(limit: Int, now: UTCTime) throws -> JSON {
        let list = try db.query("""
            SELECT \(micros("ts")), service, type, message FROM ops.system_errors ORDER BY id DESC LIMIT $1
            """, [String(limit)])
        let hourAgo = now.adding(seconds: -3600)
        let c = try db.query("""
            SELECT (SELECT count(*) FROM ops.probe_samples WHERE ts > $1 AND ts <= $2 AND NOT ok),
                   (SELECT count(*) FROM ops.system_errors WHERE ts > $1 AND ts <= $2 AND type LIKE 'delivery%'),
                   (SELECT coalesce(sum(auth_failures), 0) FROM ops.api_minutes WHERE minute > $1 AND minute <= $2),
                   (SELECT coalesce(sum(errors + client_errors), 0) FROM ops.api_minutes
                    WHERE minute > $1 AND minute <= $2 AND route_group = '/api/ops/ingest'),
                   (SELECT count(*) FROM ops.system_errors WHERE ts > $1 AND ts <= $2),
                   (SELECT \(micros("max(updated_at)")) FROM ops.access_log_cursor)
            """, [hourAgo.sql, now.sql])
        let failing = try db.query("""
            SELECT id, kind, attempts, last_status, last_error, \(micros("next_attempt_at")), \(micros("created_at"))
            FROM ops.notification_outbox WHERE sent_at IS NULL AND last_error IS NOT NULL
            ORDER BY created_at LIMIT 10
            """)
        var warnings: [String] = []
        tailWarning(c.time(0, 5), now: now, into: &warnings)
        if list.rowCount == 0 { warnings.append("No errors recorded (ops.system_errors is empty).") }
        return [
            "errors": .array((0..<list.rowCount).map { i in
                ["timestamp": .from(list.time(i, 0)?.iso8601), "service": .from(list.string(i, 1)),
                 "type": .from(list.string(i, 2)), "message": .from(list.string(i, 3))]
            }),
            "counts": [
                "probe_failures_1h": .int(c.int(0, 0) ?? 0),
                "delivery_failures_1h": .int(c.int(0, 1) ?? 0),
                "auth_failures_1h": .int(c.int(0, 2) ?? 0),
                "ingest_failures_1h": .int(c.int(0, 3) ?? 0),
                "system_errors_1h": .int(c.int(0, 4) ?? 0),
            ],
            "failing_deliveries": .array((0..<failing.rowCount).map { i in
                ["id": .from(failing.int(i, 0)), "kind": .from(failing.string(i, 1)), "attempts": .from(failing.int(i, 2)),
                 "last_status": .from(failing.int(i, 3)), "last_error": .from(failing.string(i, 4)),
                 "next_attempt_at": .from(failing.time(i, 5)?.iso8601), "created_at": .from(failing.time(i, 6)?.iso8601)]
            }),
            "checked_at": .string(now.iso8601),
            "warnings": .array(warnings.map(JSON.string)),
        ]
    }
}

import OpsActivity
import OpsJSON
import OpsPostgres

/// `/api/monitoring/cache/stats`, `/workers/status`, `/events` and `/events/history`: the
/// monitor's Redis probe, the heartbeats components push through ingest, the ticker's
/// counters (ops.ticker_stats) and its event log (ops.events).
public struct MonitoringRuntimeQueries {
    /// A ticker writes its counters every 5 s; a row older than this is a ticker that stopped.
    public static let tickerLiveSeconds: Double = 15

    let db: PGConnection

    public init(connection: PGConnection) { self.db = connection }

    // MARK: /api/monitoring/cache/stats

    /// Result of `cacheStats`: the answer, or the Redis services there are when `service`
    /// named none of them.
    public enum CacheAnswer {
        case found(JSON)
        case unknownService(known: [String])
    }

    /// The newest probed Redis service (or the one named by `service`): hit and miss rate in
    /// percent of lookups, memory, evictions per second between its last two probes.
    public func cacheStats(service: String?, now: UTCTime) throws -> CacheAnswer {
        let r = try db.query("""
            SELECT m.name, s.status, s.metrics::text, \(micros("s.checked_at")), s.message
            FROM ops.monitor_services m LEFT JOIN ops.service_status s ON s.service = m.name
            WHERE m.kind = 'redis' AND m.active AND ($1::text IS NULL OR m.name = $1)
            ORDER BY s.checked_at DESC NULLS LAST, m.name LIMIT 1
            """, [service])
        var warnings: [String] = []
        var out = JSONObject([("hit_rate", .double(0)), ("miss_rate", .double(0)), ("size_mb", .double(0)),
                              ("eviction_rate", .double(0)), ("top_keys", .array([])),
                              ("used_memory_bytes", .int(0)), ("maxmemory_bytes", .int(0)), ("evicted_keys", .int(0)),
                              ("keyspace_hits", .int(0)), ("keyspace_misses", .int(0)),
                              ("connected_clients", .int(0)), ("ops_per_sec", .int(0)),
                              ("service", .null), ("status", .string("unknown")), ("checked_at", .null)])
        guard r.rowCount == 1, let name = r.string(0, 0) else {
            if service != nil {
                let known = try db.query("SELECT name FROM ops.monitor_services WHERE kind = 'redis' AND active ORDER BY name LIMIT 50")
                return .unknownService(known: (0..<known.rowCount).compactMap { known.string($0, 0) })
            }
            warnings.append("No Redis service is configured: add a service of kind \"redis\" to the monitor's configuration.")
            out["warnings"] = .array(warnings.map(JSON.string))
            return .found(.object(out))
        }
        out["service"] = .string(name)
        out["status"] = .string(ServiceHealth(stored: r.string(0, 1)).rawValue)
        out["checked_at"] = .from(r.time(0, 3)?.iso8601)
        let metrics = parsedJSON(r.string(0, 2)) ?? .object(JSONObject())
        if r.string(0, 1) == nil {
            warnings.append("Redis service '\(name)' has not been probed yet.")
        } else if metrics["used_memory_bytes"] == nil {
            warnings.append("The last probe of '\(name)' returned no statistics (\(r.string(0, 4) ?? "no message")).")
        } else {
            let hits = metrics["keyspace_hits"]?.doubleValue ?? 0, misses = metrics["keyspace_misses"]?.doubleValue ?? 0
            if hits + misses > 0 {
                out["hit_rate"] = .double(Rounded.to(2, hits / (hits + misses) * 100))
                out["miss_rate"] = .double(Rounded.to(2, misses / (hits + misses) * 100))
            } else {
                out["hit_rate"] = .null
                out["miss_rate"] = .null
                warnings.append("No key lookups since Redis started: hit_rate and miss_rate are null.")
            }
            let used = metrics["used_memory_bytes"]?.doubleValue ?? 0
            out["size_mb"] = .double(Rounded.mb(used))
            for key in ["used_memory_bytes", "maxmemory_bytes", "evicted_keys", "keyspace_hits", "keyspace_misses",
                        "connected_clients", "ops_per_sec"] {
                if let v = metrics[key]?.doubleValue { out[key] = jsonNumber(v) }
            }
            if let rate = try evictionRate(service: name) {
                out["eviction_rate"] = .double(Rounded.to(3, rate))
            } else {
                warnings.append("eviction_rate needs two probes of '\(name)' with statistics; it is 0 until then.")
            }
        }
        warnings.append("Per-key statistics are not collected (Redis keeps none without scanning every key): top_keys is empty.")
        out["warnings"] = .array(warnings.map(JSON.string))
        return .found(.object(out))
    }

    /// Evicted keys per second between the service's two newest samples that carry the counter.
    func evictionRate(service: String) throws -> Double? {
        let r = try db.query("""
            SELECT (metrics->>'evicted_keys')::numeric::bigint, \(micros("ts")) FROM ops.probe_samples
            WHERE service = $1 AND jsonb_typeof(metrics->'evicted_keys') = 'number'
            ORDER BY ts DESC LIMIT 2
            """, [service])
        guard r.rowCount == 2, let v0 = r.int(0, 0), let t0 = r.time(0, 1), let v1 = r.int(1, 0), let t1 = r.time(1, 1) else { return nil }
        return CounterRate.perSecond(newer: (v0, t0), older: (v1, t1))
    }

    // MARK: /api/monitoring/workers/status

    /// Workers and queues from their latest heartbeats. A component whose heartbeat is older
    /// than 90 s is stale and counts as down; queue totals add up the fresh queues only.
    public func workers(now: UTCTime) throws -> JSON {
        let r = try db.query("""
            SELECT component, component_type, status, metrics::text, \(micros("ts"))
            FROM ops.heartbeats WHERE component_type IN ('worker', 'queue')
            ORDER BY component_type, component
            """)
        var workers: [JSON] = [], queues: [JSON] = []
        var workerHealth: [ServiceHealth] = []
        var fresh: Int64 = 0, staleWorkers: Int64 = 0, staleQueues: Int64 = 0
        var depth = 0.0, rate = 0.0, failed = 0.0
        for i in 0..<r.rowCount {
            let ts = r.time(i, 4)
            let age = ts.map { ageSeconds(now, $0) }
            let health = HeartbeatHealth.status(pushed: r.string(i, 2), ageSeconds: age)
            let stale = age.map { $0 > HeartbeatHealth.staleAfterSeconds } ?? true
            let metrics = parsedJSON(r.string(i, 3)) ?? .object(JSONObject())
            var item = JSONObject([("component", .from(r.string(i, 0))), ("status", .from(r.string(i, 2))),
                                   ("health", .string(health.rawValue)), ("stale", .bool(stale)),
                                   ("age_s", .from(age)), ("ts", .from(ts?.iso8601))])
            if r.string(i, 1) == "worker" {
                workerHealth.append(health)
                if stale { staleWorkers += 1 } else { fresh += 1 }
                item["metrics"] = metrics
                workers.append(.object(item))
            } else {
                if stale {
                    staleQueues += 1
                } else {
                    depth += metrics["depth"]?.doubleValue ?? 0
                    rate += metrics["processing_rate"]?.doubleValue ?? 0
                    failed += metrics["failed"]?.doubleValue ?? 0
                }
                item["depth"] = metrics["depth"]?.doubleValue.map(jsonNumber) ?? .null
                item["processing_rate"] = metrics["processing_rate"] ?? .null
                item["failed"] = metrics["failed"] ?? .null
                item["metrics"] = metrics
                queues.append(.object(item))
            }
        }
        var warnings: [String] = []
        if workers.isEmpty {
            warnings.append("No worker heartbeats yet: workers push {\"kind\":\"heartbeat\",\"component_type\":\"worker\"} records through POST /api/ops/ingest.")
        }
        if queues.isEmpty {
            warnings.append("No queue heartbeats yet: queues push {\"kind\":\"heartbeat\",\"component_type\":\"queue\",\"metrics\":{\"depth\",\"processing_rate\",\"failed\"}} records.")
        }
        if staleWorkers > 0 { warnings.append("\(staleWorkers) worker(s) have not sent a heartbeat for more than \(Int(HeartbeatHealth.staleAfterSeconds)) s.") }
        if staleQueues > 0 { warnings.append("\(staleQueues) queue(s) are stale (no heartbeat for more than \(Int(HeartbeatHealth.staleAfterSeconds)) s) and left out of the totals.") }
        return [
            "active_workers": .int(fresh),
            "total_workers": .int(Int64(workers.count)),
            "worker_health": .string(HeartbeatHealth.combined(workerHealth).rawValue),
            "queue_length": jsonNumber(depth),
            "processing_rate": .double(Rounded.to(3, rate)),
            "failed_tasks": jsonNumber(failed),
            "workers": .array(workers),
            "queues": .array(queues),
            "stale_after_s": .double(HeartbeatHealth.staleAfterSeconds),
            "checked_at": .string(now.iso8601),
            "warnings": .array(warnings.map(JSON.string)),
        ]
    }

    // MARK: /api/monitoring/events

    /// Event-bus figures over `range`:
    /// - events_emitted: rows appended to ops.events (ingest, budget guard, alerts) in the range;
    /// - events_received: those of them a live ticker has read (id ≤ its last_event_id);
    /// - failed_deliveries: frames the live tickers dropped for slow clients plus clients
    ///   they cut off for stalling, counted since each ticker started (not per range);
    /// - event_latency_ms.last_ms: how old the newest event was when a live ticker read it.
    ///   Tickers do not keep per-event latencies, so the percentiles are null.
    public func events(range: MonitoringRange, now: UTCTime) throws -> JSON {
        let tickers = try db.query("""
            SELECT instance, pid, clients, subscribers, frames_sent, frames_dropped, slow_disconnects,
                   last_event_id, last_event_lag_ms, db_reconnects, \(micros("updated_at"))
            FROM ops.ticker_stats ORDER BY instance
            """)
        var live: [JSON] = [], dead: [JSON] = []
        var lastEventID: Int64?, lag: Int64?, sent: Int64 = 0, dropped: Int64 = 0, slow: Int64 = 0, clients: Int64 = 0
        for i in 0..<tickers.rowCount {
            let updated = tickers.time(i, 10)
            let age = updated.map { ageSeconds(now, $0) }
            let isLive = age.map { $0 <= Self.tickerLiveSeconds } ?? false
            let row: JSON = [
                "instance": .from(tickers.string(i, 0)), "pid": .from(tickers.int(i, 1)),
                "clients": .from(tickers.int(i, 2)), "subscribers": .from(tickers.int(i, 3)),
                "frames_sent": .from(tickers.int(i, 4)), "frames_dropped": .from(tickers.int(i, 5)),
                "slow_disconnects": .from(tickers.int(i, 6)), "last_event_id": .from(tickers.int(i, 7)),
                "last_event_lag_ms": .from(tickers.int(i, 8)), "db_reconnects": .from(tickers.int(i, 9)),
                "updated_at": .from(updated?.iso8601), "age_s": .from(age),
            ]
            guard isLive else { dead.append(row); continue }
            live.append(row)
            if let id = tickers.int(i, 7) { lastEventID = max(lastEventID ?? id, id) }
            if let l = tickers.int(i, 8) { lag = max(lag ?? l, l) }
            sent += tickers.int(i, 4) ?? 0; dropped += tickers.int(i, 5) ?? 0
            slow += tickers.int(i, 6) ?? 0; clients += tickers.int(i, 2) ?? 0
        }
        // One pass over the range's events (BRIN on ts): per type, emitted and received.
        let r = try db.query("""
            SELECT type, count(*), count(*) FILTER (WHERE id <= $3) FROM ops.events
            WHERE ts > $1 AND ts <= $2 GROUP BY type ORDER BY 2 DESC, 1
            """, [now.adding(seconds: -range.seconds).sql, now.sql, String(lastEventID ?? 0)])
        var emitted: Int64 = 0, received: Int64 = 0
        var types: [(key: String, value: JSON)] = []
        for i in 0..<r.rowCount {
            let n = r.int(i, 1) ?? 0
            emitted += n
            received += r.int(i, 2) ?? 0
            types.append((key: r.string(i, 0) ?? "", value: .int(n)))
        }
        var warnings: [String] = []
        if live.isEmpty {
            warnings.append("No live ticker: no ops.ticker_stats row was updated in the last \(Int(Self.tickerLiveSeconds)) s, so events_received and the delivery counters are 0.")
        }
        if emitted == 0 { warnings.append("No events in the last \(range.rawValue).") }
        warnings.append("Per-event latency is not recorded: event_latency_ms.p50/p95/p99 are null; last_ms is the age of the newest event when a live ticker read it.")
        return [
            "range": .string(range.rawValue),
            "events_emitted": .int(emitted),
            "events_received": .int(received),
            "event_latency_ms": ["p50": .null, "p95": .null, "p99": .null, "last_ms": .from(lag)],
            "event_types": .object(JSONObject(types)),
            "failed_deliveries": .int(dropped + slow),
            "frames_sent": .int(sent),
            "frames_dropped": .int(dropped),
            "slow_disconnects": .int(slow),
            "clients": .int(clients),
            "tickers": .array(live),
            "stale_tickers": .array(dead),
            "checked_at": .string(now.iso8601),
            "warnings": .array(warnings.map(JSON.string)),
        ]
    }

    // MARK: /api/monitoring/events/history

    /// The newest `limit` events, newest first.
    public func history(limit: Int) throws -> JSON {
        let r = try db.query("""
            SELECT id, \(micros("ts")), type, data::text FROM ops.events ORDER BY id DESC LIMIT $1
            """, [String(limit)])
        var warnings: [String] = []
        if r.rowCount == 0 { warnings.append("The event log is empty.") }
        return [
            "events": .array((0..<r.rowCount).map { i in
                ["id": .from(r.int(i, 0)), "ts": .from(r.time(i, 1)?.iso8601), "type": .from(r.string(i, 2)),
                 "data": parsedJSON(r.string(i, 3)) ?? .null]
            }),
            "warnings": .array(warnings.map(JSON.string)),
        ]
    }
}

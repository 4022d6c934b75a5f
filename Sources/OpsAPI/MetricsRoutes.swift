import OpsActivity
import OpsHTTP
import OpsJSON
import OpsLedger
import OpsMonitorCore
import OpsPostgres

/// `GET /metrics`: what the API already knows, in the Prometheus text format (0.0.4), for
/// teams that scrape with Prometheus. Admin only (a scraper sends `Authorization: Bearer`).
///
/// The figures come from the same queries as the JSON routes, so a scrape agrees with them:
/// runs and cost today from the summary's cached answer, browser reports from the beacon's
/// counters, alerts, service health, API rate and latency from the monitor's newest complete
/// access-log minute, ticker and Postgres figures. Values are gauges unless the source is a
/// counter that only grows (beacon reports). A figure the source does not have yet (no run
/// cost known today, no API request last minute) is left out rather than reported as 0.
enum MetricsRoutes {
    static func metrics(_ request: Request, _ context: AppContext) throws -> Response {
        _ = try QueryParameters(request, allowed: [])
        let now = UTCTime.now()
        let config = context.config
        var p = PrometheusText()

        p.gauge("opsplane_build_info", help: "Version and git commit of the worker that answered; always 1.", 1,
                labels: [("version", BuildInfo.version), ("git_sha", BuildInfo.gitSHA)])
        if let started = BuildInfo.startedAtSeconds {
            p.gauge("opsplane_process_start_time_seconds",
                    help: "Start time of the worker process that answered, in seconds since the epoch.", Double(started))
        }

        let summaryText = try context.database.run { db in
            try ActivityRoutes.cache(db, context).answer(.summary(date: now.dateString, userCents: config.dailyCostPerUserCents,
                                                                  globalCents: config.dailyCostGlobalCents), now: now)
        }
        let summary = (try? JSON.parse(summaryText)) ?? .null
        try context.database.run { db in
            activity(summary, db: db, now: now, into: &p)
            try frontend(FrontendLogStore(connection: db), into: &p)
            try alerts(db, into: &p)
            health(try MonitoringHealthQueries(connection: db).health(now: now), into: &p)
            try api(db, now: now, into: &p)
            ticker(try MonitoringRuntimeQueries(connection: db).events(range: .h1, now: now), into: &p)
            let pg = try MonitoringDatabaseQueries(connection: db).capacity()
            p.gauge("opsplane_db_size_bytes", help: "Size of the Opsplane database (pg_database_size).", pg.dbSizeBytes)
            p.gauge("opsplane_db_connections", help: "Client connections to Postgres (pg_stat_activity).", Double(pg.connections))
            p.gauge("opsplane_db_max_connections", help: "Postgres max_connections.", Double(pg.maxConnections))
        }
        return Response(status: 200, headers: [HTTPHeader("Content-Type", PrometheusText.contentType),
                                                HTTPHeader("Cache-Control", "no-store")],
                        body: Array(p.render().utf8))
    }

    /// Today's runs and cost (UTC day) as /api/ops/summary answers them, and the records
    /// ingested in the last 60 s by kind.
    static func activity(_ summary: JSON, db: PGConnection, now: UTCTime, into p: inout PrometheusText) {
        if let runs = summary["runs_today"]?.doubleValue {
            p.gauge("opsplane_runs_today", help: "Runs started today (UTC), as /api/ops/summary answers.", runs)
        }
        if let cost = summary["cost_today_usd"]?.doubleValue {
            p.gauge("opsplane_cost_today_usd", help: "Known LLM cost of runs finished today (UTC), in USD.", cost)
        }
        if let errors = summary["errors_last_hour"]?.doubleValue {
            p.gauge("opsplane_run_failures_last_hour", help: "Runs that failed in the last hour.", errors)
        }
        if let agents = summary["agents_total"]?.doubleValue {
            p.gauge("opsplane_agents", help: "Agents known to the ledger.", agents)
        }
        if let users = summary["active_users_24h"]?.doubleValue {
            p.gauge("opsplane_active_users_24h", help: "Users with a run or message in the last 24 hours.", users)
        }
    }

    static func ingest(_ db: PGConnection, now: UTCTime, into p: inout PrometheusText) throws {
        let r = try db.query("""
            SELECT (SELECT count(*) FROM ops.runs WHERE created_at > $1 AND created_at <= $2),
                   (SELECT count(*) FROM ops.llm_calls WHERE ts > $1 AND ts <= $2),
                   (SELECT count(*) FROM ops.messages WHERE created_at > $1 AND created_at <= $2),
                   (SELECT count(*) FROM ops.heartbeat_samples WHERE ts > $1 AND ts <= $2)
            """, [now.adding(seconds: -60).sql, now.sql])
        let kinds = ["run", "llm_call", "message", "heartbeat"]
        p.add("opsplane_ingest_records_last_minute", .gauge,
              help: "Records ingested whose own timestamp falls in the last 60 s, by kind (as /operator/system/metrics counts them).",
              samples: kinds.indices.map { .init(labels: [("kind", kinds[$0])], value: Double(r.int(0, $0) ?? 0)) })
    }

    /// The beacon's counters, as /api/ops/frontend-logs answers them (all routes).
    static func frontend(_ store: FrontendLogStore, into p: inout PrometheusText) throws {
        let c = try store.counters(route: nil)
        p.counter("opsplane_frontend_reports_received_total", help: "Browser error reports written.", Double(c.written))
        p.counter("opsplane_frontend_reports_evicted_total",
                  help: "Browser error reports overwritten in a full per-route ring buffer.", Double(c.evicted))
        let dropped = (c.dropped.objectValue?.keys ?? []).sorted().map { reason in
            PrometheusText.Sample(labels: [("reason", reason)], value: c.dropped[reason]?.doubleValue ?? 0)
        }
        p.add("opsplane_frontend_reports_dropped_total", .counter,
              help: "Browser error reports refused or throttled, by reason.", samples: dropped)
    }

    /// Alerts not resolved, by state and severity (every combination, zeros included).
    static func alerts(_ db: PGConnection, into p: inout PrometheusText) throws {
        let r = try db.query("""
            SELECT state, severity, count(*) FROM ops.alerts
            WHERE state IN ('firing', 'acknowledged') GROUP BY state, severity
            """)
        var counts: [String: Int64] = [:]
        for i in 0..<r.rowCount { counts["\(r.string(i, 0) ?? "")/\(r.string(i, 1) ?? "")"] = r.int(i, 2) ?? 0 }
        var samples: [PrometheusText.Sample] = []
        for state in ["firing", "acknowledged"] {
            for severity in ["critical", "warning", "info"] {
                samples.append(.init(labels: [("state", state), ("severity", severity)],
                                     value: Double(counts["\(state)/\(severity)"] ?? 0)))
            }
        }
        p.add("opsplane_alerts", .gauge, help: "Alerts that are firing or acknowledged, by severity.", samples: samples)
    }

    static let statuses = ["healthy", "degraded", "down", "unknown"]

    /// Each monitored service's status (1 for its current status, 0 for the others) and
    /// response time, as /api/monitoring/health answers them.
    static func health(_ answer: JSON, into p: inout PrometheusText) {
        let modules = answer["modules"]?.objectValue
        var status: [PrometheusText.Sample] = []
        var latency: [PrometheusText.Sample] = []
        for name in (modules?.keys ?? []).sorted() {
            let module = modules?[name]
            let current = module?["status"]?.stringValue ?? "unknown"
            for s in statuses {
                status.append(.init(labels: [("service", name), ("status", s)], value: s == current ? 1 : 0))
            }
            if let ms = module?["response_time_ms"]?.doubleValue {
                latency.append(.init(labels: [("service", name)], value: ms / 1000))
            }
        }
        p.add("opsplane_service_status", .gauge,
              help: "Health of each monitored service: 1 for its current status, 0 for the others.", samples: status)
        p.add("opsplane_service_response_seconds", .gauge,
              help: "Response time of each service's latest probe, in seconds.", samples: latency)
        if let stale = answer["monitor"]?["stale"]?.boolValue {
            p.gauge("opsplane_monitor_stale", help: "1 when the active monitor's heartbeat is stale.", stale ? 1 : 0)
        }
    }

    /// API requests of the newest complete minute of the access log (static files left out),
    /// as /operator/system/metrics reads them: rate, 5xx, latency quantiles from the bucket
    /// histogram, and requests per route group.
    static func api(_ db: PGConnection, now: UTCTime, into p: inout PrometheusText) throws {
        try ingest(db, now: now, into: &p)
        let minute = UTCTime(seconds: now.seconds - now.seconds % 60 - 60)
        let r = try db.query("""
            SELECT route_group, requests, errors, client_errors, latency_sum_ms, latency_hist::text
            FROM ops.api_minutes WHERE minute = $1 AND route_group <> 'static' ORDER BY route_group
            """, [minute.sql])
        var requests: Int64 = 0, errors: Int64 = 0, sumMs = 0.0
        var histogram: [Int64] = []
        var byGroup: [PrometheusText.Sample] = []
        var errorsByGroup: [PrometheusText.Sample] = []
        for i in 0..<r.rowCount {
            let group = r.string(i, 0) ?? ""
            requests += r.int(i, 1) ?? 0
            errors += r.int(i, 2) ?? 0
            sumMs += r.double(i, 4) ?? 0
            let h = r.string(i, 5).flatMap(PGIntArray.parse) ?? []
            if histogram.count < h.count { histogram += Array(repeating: 0, count: h.count - histogram.count) }
            for (j, v) in h.enumerated() { histogram[j] += v }
            byGroup.append(.init(labels: [("route_group", group)], value: Double(r.int(i, 1) ?? 0)))
            errorsByGroup.append(.init(labels: [("route_group", group), ("class", "5xx")], value: Double(r.int(i, 2) ?? 0)))
            errorsByGroup.append(.init(labels: [("route_group", group), ("class", "4xx")], value: Double(r.int(i, 3) ?? 0)))
        }
        p.gauge("opsplane_api_request_rate_per_second",
                help: "API requests per second over the newest complete minute of the nginx access log.",
                Double(requests) / 60)
        p.add("opsplane_api_minute_requests", .gauge,
              help: "API requests in the newest complete minute, by route group.", samples: byGroup)
        p.add("opsplane_api_minute_errors", .gauge,
              help: "API 4xx and 5xx answers in the newest complete minute, by route group.", samples: errorsByGroup)
        let quantiles: [(Double, Double?)] = [0.5, 0.95, 0.99].map { q in
            (q, requests > 0 ? LatencyHistogram.percentile(histogram, q * 100).map { $0 / 1000 } : nil)
        }
        p.summary("opsplane_api_latency_seconds",
                  help: "API latency over the newest complete minute (quantiles from the monitor's bucket histogram).",
                  quantiles: quantiles, sum: sumMs / 1000, count: Double(requests))
        p.gauge("opsplane_api_minute_start_seconds", help: "Start of the minute the API figures describe, in seconds since the epoch.",
                Double(minute.seconds))
    }

    /// The live tickers' counters, as /api/monitoring/events answers them.
    static func ticker(_ events: JSON, into p: inout PrometheusText) {
        p.gauge("opsplane_ticker_clients", help: "WebSocket clients of the live tickers.", events["clients"]?.doubleValue ?? 0)
        p.gauge("opsplane_ticker_instances", help: "Ticker processes that reported recently.",
                Double(events["tickers"]?.arrayValue?.count ?? 0))
        p.gauge("opsplane_ticker_frames_sent", help: "Frames the live tickers sent since they started.",
                events["frames_sent"]?.doubleValue ?? 0)
        p.gauge("opsplane_ticker_frames_dropped", help: "Frames the live tickers dropped (slow clients) since they started.",
                events["frames_dropped"]?.doubleValue ?? 0)
        p.gauge("opsplane_ticker_slow_disconnects", help: "Clients the live tickers disconnected for being slow.",
                events["slow_disconnects"]?.doubleValue ?? 0)
        p.gauge("opsplane_events_emitted_last_hour", help: "Ticker events appended in the last hour.",
                events["events_emitted"]?.doubleValue ?? 0)
        if let lag = events["event_latency_ms"]?["last_ms"]?.doubleValue {
            p.gauge("opsplane_ticker_event_lag_seconds", help: "Delay of the newest event a ticker relayed.", lag / 1000)
        }
    }
}

import OpsActivity
import OpsJSON
import OpsPostgres

/// `/api/monitoring/database` and `/api/monitoring/db/pool`: Postgres' own statistics views,
/// read live (each is a small in-memory view: cheaper than anything the monitor could store).
/// Connections count across the whole cluster, since max_connections is a cluster limit;
/// sizes and the cache hit ratio are those of the current database. Sessions of other roles
/// show no state unless the API's role has pg_read_all_stats (pg_monitor).
public struct MonitoringDatabaseQueries {
    /// A statement slower than this on average is a slow query (the seed's 100 ms).
    public static let slowMillis = 100.0
    /// A transaction open longer than this is long-running (the monitor's probe uses the same).
    public static let longTransactionSeconds = 60
    public static let tableLimit = 20
    public static let statementLimit = 10

    let db: PGConnection

    public init(connection: PGConnection) { self.db = connection }

    // MARK: /api/monitoring/database

    public func database(now: UTCTime) throws -> JSON {
        var warnings: [String] = []
        let s = try db.query("""
            SELECT current_setting('max_connections')::int,
                   count(*) FILTER (WHERE backend_type = 'client backend'),
                   count(*) FILTER (WHERE backend_type = 'client backend' AND state = 'active'),
                   count(*) FILTER (WHERE backend_type = 'client backend' AND state = 'idle'),
                   count(*) FILTER (WHERE backend_type = 'client backend' AND state LIKE 'idle in transaction%'),
                   count(*) FILTER (WHERE backend_type = 'client backend' AND state IS NULL),
                   count(*) FILTER (WHERE state = 'active' AND pid <> pg_backend_pid()
                                    AND query_start < clock_timestamp() - make_interval(secs => $1::double precision / 1000)),
                   count(*) FILTER (WHERE pid <> pg_backend_pid()
                                    AND xact_start < clock_timestamp() - make_interval(secs => $2::double precision)),
                   extract(epoch FROM max(clock_timestamp() - xact_start) FILTER (WHERE pid <> pg_backend_pid())),
                   pg_database_size(current_database()),
                   (SELECT blks_hit FROM pg_stat_database WHERE datname = current_database()),
                   (SELECT blks_read FROM pg_stat_database WHERE datname = current_database()),
                   to_regclass('pg_stat_statements') IS NOT NULL
            FROM pg_stat_activity
            """, [String(Self.slowMillis), String(Self.longTransactionSeconds)])
        let maxConnections = s.int(0, 0) ?? 0
        let total = s.int(0, 1) ?? 0
        let hidden = s.int(0, 5) ?? 0
        if hidden > 0 { warnings.append(Self.hiddenWarning(hidden)) }
        let hits = Double(s.int(0, 10) ?? 0), reads = Double(s.int(0, 11) ?? 0)
        let hitRatio: Double? = hits + reads > 0 ? Rounded.to(4, hits / (hits + reads)) : nil
        if hitRatio == nil { warnings.append("No buffer reads yet in this database: cache_hit_ratio is null.") }

        let performance = try queryPerformance(hasExtension: s.bool(0, 12) ?? false, activeSlow: s.int(0, 6) ?? 0,
                                               warnings: &warnings)
        let tables = try tableStats(warnings: &warnings)
        return [
            "connection_pool": [
                "active": .int(s.int(0, 2) ?? 0), "idle": .int(s.int(0, 3) ?? 0),
                "idle_in_transaction": .int(s.int(0, 4) ?? 0), "total": .int(total), "max": .int(maxConnections),
                "utilization": .double(Rounded.percent(Double(total), of: Double(maxConnections)) ?? 0),
            ],
            "query_performance": performance,
            "table_stats": tables,
            "db_size_mb": .double(Rounded.mb(s.double(0, 9) ?? 0)),
            "cache_hit_ratio": .from(hitRatio),
            "long_running_transactions": .int(s.int(0, 7) ?? 0),
            "longest_transaction_s": .from(s.double(0, 8).map { Rounded.to(1, $0) }),
            "checked_at": .string(now.iso8601),
            "warnings": .array(warnings.map(JSON.string)),
        ]
    }

    static func hiddenWarning(_ n: Int64) -> String {
        "\(n) connection(s) belong to roles whose sessions this role may not inspect (their state is hidden): grant pg_monitor to the API's database role to count them by state."
    }

    /// The largest tables (with their indexes and TOAST) of the current database:
    /// `{"schema.table": {"row_count", "size_mb"}}`, largest first. Row counts are estimates,
    /// not a count(*): pg_class.reltuples from the last (auto)VACUUM/ANALYZE, or for a table
    /// never analyzed the live tuples of the statistics (which can count rows twice for a
    /// moment around an ANALYZE, so they come second).
    /// pg_total_relation_size waits for any lock that excludes readers (a migration, VACUUM
    /// FULL, TRUNCATE): after `sizeLockTimeoutMillis` the sizes fall back to the page counts
    /// the last VACUUM/ANALYZE recorded, so a locked table never holds up the answer.
    func tableStats(warnings: inout [String]) throws -> JSON {
        let rows: PGResult
        do {
            rows = try db.transaction {
                try db.query("SELECT set_config('lock_timeout', $1, true)", ["\(Self.sizeLockTimeoutMillis)ms"])
                return try db.query(Self.tablesSQL(size: "pg_total_relation_size(c.oid)"), [String(Self.tableLimit)])
            }
        } catch let error as PGError where error.sqlState == "55P03" {
            warnings.append("A table is locked against readers: table sizes are the estimates of the last VACUUM/ANALYZE.")
            rows = try db.query(Self.tablesSQL(size: """
                (c.relpages::bigint + coalesce(t.relpages, 0)
                 + coalesce((SELECT sum(i.relpages) FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
                             WHERE x.indrelid = c.oid), 0)) * current_setting('block_size')::bigint
                """), [String(Self.tableLimit)])
        }
        return .object(JSONObject((0..<rows.rowCount).map { i in
            (key: rows.string(i, 0) ?? "", value: ["row_count": .int(rows.int(i, 1) ?? 0), "size_mb": .double(Rounded.mb(rows.double(i, 2) ?? 0))])
        }))
    }

    public static let sizeLockTimeoutMillis = 200

    static func tablesSQL(size: String) -> String {
        """
        SELECT n.nspname || '.' || c.relname,
               CASE WHEN c.reltuples >= 0 THEN c.reltuples::bigint ELSE coalesce(st.n_live_tup, 0) END,
               \(size) AS bytes
        FROM pg_class c
        JOIN pg_namespace n ON n.oid = c.relnamespace
        LEFT JOIN pg_class t ON t.oid = c.reltoastrelid
        LEFT JOIN pg_stat_user_tables st ON st.relid = c.oid
        WHERE c.relkind IN ('r', 'p', 'm') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
          AND n.nspname NOT LIKE 'pg_toast%' AND n.nspname NOT LIKE 'pg_temp%'
        ORDER BY bytes DESC, 1 LIMIT $1
        """
    }

    /// From pg_stat_statements when the extension is installed and loaded; else from the
    /// slow statements the monitor's newest Postgres probe saw (same source, maybe another
    /// server); else zeros and a warning. `active_slow_queries` (running longer than 100 ms
    /// right now) comes from pg_stat_activity and is always there.
    func queryPerformance(hasExtension: Bool, activeSlow: Int64, warnings: inout [String]) throws -> JSON {
        var out = JSONObject([("avg_query_time_ms", .null), ("slow_queries", .int(0)), ("active_slow_queries", .int(activeSlow)),
                              ("statements", .array([])), ("source", .null)])
        if hasExtension {
            do {
                let totals = try db.query("""
                    SELECT sum(calls), sum(total_exec_time), count(*) FILTER (WHERE mean_exec_time > $1)
                    FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
                    """, [String(Self.slowMillis)])
                let top = try db.query("""
                    SELECT left(query, 200), calls, mean_exec_time, total_exec_time
                    FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
                    ORDER BY mean_exec_time DESC LIMIT $1
                    """, [String(Self.statementLimit)])
                let calls = totals.double(0, 0) ?? 0
                out["avg_query_time_ms"] = calls > 0 ? .double(Rounded.to(3, (totals.double(0, 1) ?? 0) / calls)) : .null
                out["slow_queries"] = .int(totals.int(0, 2) ?? 0)
                out["statements"] = .array((0..<top.rowCount).map { i in
                    ["query": .from(top.string(i, 0)), "calls": .from(top.int(i, 1)),
                     "mean_ms": .from(top.double(i, 2).map { Rounded.to(3, $0) }),
                     "total_ms": .from(top.double(i, 3).map { Rounded.to(3, $0) })]
                })
                out["source"] = "pg_stat_statements"
                return .object(out)
            } catch let error as PGError where !error.isUnavailable {
                // Created but not in shared_preload_libraries: the view raises an error.
                warnings.append("pg_stat_statements is installed but cannot be read (\(error.message.prefix(160))).")
            }
        }
        let probe = try db.query("""
            SELECT m.name, s.metrics->'slow_statements' FROM ops.monitor_services m
            JOIN ops.service_status s ON s.service = m.name
            WHERE m.kind = 'postgres' AND m.active AND jsonb_typeof(s.metrics->'slow_statements') = 'array'
            ORDER BY s.checked_at DESC NULLS LAST LIMIT 1
            """)
        if probe.rowCount == 1, let list = parsedJSON(probe.string(0, 1))?.arrayValue {
            out["slow_queries"] = .int(Int64(list.filter { ($0["mean_ms"]?.doubleValue ?? 0) > Self.slowMillis }.count))
            out["statements"] = .array(Array(list.prefix(Self.statementLimit)))
            out["source"] = .string("monitor:\(probe.string(0, 0) ?? "")")
            warnings.append("pg_stat_statements is not readable here: statements come from the monitor's probe of '\(probe.string(0, 0) ?? "")'; avg_query_time_ms is null.")
        } else {
            warnings.append("pg_stat_statements is not available (add it to shared_preload_libraries and CREATE EXTENSION pg_stat_statements): avg_query_time_ms is null, slow_queries 0, no statements.")
        }
        return .object(out)
    }

    // MARK: /api/monitoring/db/pool

    /// Client connections by state and by application against max_connections. `waiting` =
    /// connections blocked on a lock.
    public func pool(now: UTCTime) throws -> JSON {
        let r = try db.query("""
            SELECT coalesce(application_name, ''), count(*),
                   count(*) FILTER (WHERE state = 'active'), count(*) FILTER (WHERE state = 'idle'),
                   count(*) FILTER (WHERE state LIKE 'idle in transaction%'),
                   count(*) FILTER (WHERE wait_event_type = 'Lock'), count(*) FILTER (WHERE state IS NULL),
                   current_setting('max_connections')::int
            FROM pg_stat_activity WHERE backend_type = 'client backend'
            GROUP BY 1 ORDER BY 2 DESC, 1
            """)
        var active: Int64 = 0, idle: Int64 = 0, idleTx: Int64 = 0, waiting: Int64 = 0, hidden: Int64 = 0, total: Int64 = 0
        var byApp: [JSON] = []
        for i in 0..<r.rowCount {
            let n = r.int(i, 1) ?? 0
            total += n
            active += r.int(i, 2) ?? 0; idle += r.int(i, 3) ?? 0; idleTx += r.int(i, 4) ?? 0
            waiting += r.int(i, 5) ?? 0; hidden += r.int(i, 6) ?? 0
            byApp.append(["application_name": .from(r.string(i, 0)), "count": .int(n)])
        }
        // This request's own connection is always there, so max_connections is in the first row.
        let maxConnections = r.rowCount > 0 ? r.int(0, 7) ?? 0 : 0
        var warnings: [String] = []
        if hidden > 0 { warnings.append(Self.hiddenWarning(hidden)) }
        return [
            "active": .int(active), "idle": .int(idle), "idle_in_transaction": .int(idleTx), "waiting": .int(waiting),
            "total": .int(total), "max": .int(maxConnections),
            "utilization": .double(Rounded.percent(Double(total), of: Double(maxConnections)) ?? 0),
            "by_application": .array(byApp),
            "checked_at": .string(now.iso8601),
            "warnings": .array(warnings.map(JSON.string)),
        ]
    }

    // MARK: Postgres figures of /operator/system/capacity

    public func capacity() throws -> (dbSizeBytes: Double, connections: Int64, maxConnections: Int64) {
        let r = try db.query("""
            SELECT pg_database_size(current_database()),
                   (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'),
                   current_setting('max_connections')::int
            """)
        return (r.double(0, 0) ?? 0, r.int(0, 1) ?? 0, r.int(0, 2) ?? 0)
    }
}

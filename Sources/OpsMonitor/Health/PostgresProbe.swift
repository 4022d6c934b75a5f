import OpsJSON
import OpsMonitorCore
import OpsPostgres

/// Postgres: connect with the target URL and run `SELECT 1` (the response time covers both),
/// then read the figures of the database panel (CONTRACT.md): connections against
/// max_connections, database size, the largest tables, the cache hit ratio, long-running
/// transactions, and the slowest statements when pg_stat_statements is installed. A failure
/// to read a figure leaves it null; only the connect and `SELECT 1` decide up or down.
enum PostgresProbe {
    static func run(_ service: ServiceConfig) -> ProbeResult {
        let timeout = service.timeoutMillis
        let start = ProbeClock.now()
        let connection: PGConnection
        do {
            // libpq's connect_timeout is whole seconds (and at least 2); statements get timeout_ms.
            connection = try PGConnection(url: service.target, applicationName: "opsplane-monitor-probe",
                                          connectTimeoutSeconds: max(2, (timeout + 999) / 1000),
                                          statementTimeoutMillis: timeout)
            try connection.query("SELECT 1")
        } catch {
            let elapsed = (ProbeClock.now() - start) * 1000
            let message = "\(error)"
            if message.contains("timeout expired") || message.contains("statement timeout") || elapsed >= Double(timeout) {
                return .timedOut("postgres: \(firstLine(message))", afterMillis: elapsed)
            }
            return .failed("postgres: \(firstLine(message))")
        }
        let elapsed = (ProbeClock.now() - start) * 1000
        if elapsed > Double(timeout) {
            return .timedOut("postgres: answered after \(Int(elapsed)) ms, timeout \(timeout) ms", afterMillis: elapsed)
        }
        return ProbeResult(outcome: .ok, responseMillis: elapsed, metrics: metrics(connection))
    }

    static func firstLine(_ s: String) -> String {
        String(s.split(separator: "\n", omittingEmptySubsequences: true).first ?? Substring(s))
    }

    static func metrics(_ db: PGConnection) -> JSON {
        var o = JSONObject()
        if let r = try? db.query("""
            SELECT count(*) FILTER (WHERE backend_type = 'client backend') AS connections,
                   count(*) FILTER (WHERE backend_type = 'client backend' AND state = 'active') AS active,
                   count(*) FILTER (WHERE backend_type = 'client backend' AND state = 'idle') AS idle,
                   current_setting('max_connections')::int AS max_connections,
                   pg_database_size(current_database()) AS db_size,
                   count(*) FILTER (WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()
                                    AND xact_start < now() - interval '60 seconds') AS long_tx,
                   coalesce(max(extract(epoch FROM now() - xact_start))
                            FILTER (WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()), 0) AS longest_s,
                   (SELECT CASE WHEN blks_hit + blks_read > 0 THEN blks_hit::float8 / (blks_hit + blks_read) END
                      FROM pg_stat_database WHERE datname = current_database()) AS cache_hit_ratio
            FROM pg_stat_activity
            """), r.rowCount == 1 {
            let connections = r.int(0, "connections") ?? 0
            let max = r.int(0, "max_connections") ?? 0
            o["connections"] = .int(connections)
            o["max_connections"] = .int(max)
            o["connections_pct"] = .double(max > 0 ? (Double(connections) / Double(max) * 1000).rounded() / 10 : 0)
            o["active_connections"] = .int(r.int(0, "active") ?? 0)
            o["idle_connections"] = .int(r.int(0, "idle") ?? 0)
            o["db_size_bytes"] = .int(r.int(0, "db_size") ?? 0)
            o["cache_hit_ratio"] = JSON.from(r.double(0, "cache_hit_ratio"))
            o["long_running_transactions"] = .int(r.int(0, "long_tx") ?? 0)
            o["longest_transaction_s"] = .double(((r.double(0, "longest_s") ?? 0) * 10).rounded() / 10)
        }
        if let r = try? db.query("""
            SELECT n.nspname || '.' || c.relname AS name, pg_total_relation_size(c.oid) AS bytes,
                   coalesce(s.n_live_tup, greatest(c.reltuples, 0)::bigint) AS rows
            FROM pg_class c
            JOIN pg_namespace n ON n.oid = c.relnamespace
            LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid
            WHERE c.relkind IN ('r', 'p', 'm') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
              AND n.nspname NOT LIKE 'pg_toast%'
            ORDER BY bytes DESC, name LIMIT 10
            """) {
            o["largest_tables"] = .array((0..<r.rowCount).map { i in
                .object(JSONObject([("table", JSON.from(r.string(i, "name"))), ("total_bytes", .int(r.int(i, "bytes") ?? 0)),
                                    ("rows", .int(r.int(i, "rows") ?? 0))]))
            })
        }
        o["slow_statements"] = .null
        // The view lives in the extension's schema; format(%I) quotes it, so the text run next
        // comes from the catalog, not from input.
        if let r = try? db.query("""
            SELECT format('SELECT left(query, 200) AS query, calls, mean_exec_time AS mean_ms,
                                  (SELECT count(*) FROM %1$I.pg_stat_statements WHERE mean_exec_time > 100) AS slow,
                                  (SELECT sum(total_exec_time) / nullif(sum(calls), 0) FROM %1$I.pg_stat_statements) AS mean_all
                           FROM %1$I.pg_stat_statements WHERE calls > 0 ORDER BY mean_exec_time DESC LIMIT 10', n.nspname)
            FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
            WHERE e.extname = 'pg_stat_statements'
            """), r.rowCount == 1, let sql = r.string(0, 0),
           let s = try? db.query(sql) {
            o["slow_statements"] = .array((0..<s.rowCount).map { i in
                .object(JSONObject([("query", JSON.from(s.string(i, "query"))), ("calls", .int(s.int(i, "calls") ?? 0)),
                                    ("mean_ms", .double(s.double(i, "mean_ms") ?? 0))]))
            })
            o["slow_statements_over_100ms"] = .int(s.rowCount > 0 ? (s.int(0, "slow") ?? 0) : 0)
            o["mean_statement_ms"] = JSON.from(s.rowCount > 0 ? s.double(0, "mean_all") : nil)
        }
        return .object(o)
    }
}

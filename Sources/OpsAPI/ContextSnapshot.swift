import OpsActivity
import OpsJSON
import OpsLedger
import OpsMigrations
import OpsHTTP
import OpsPostgres
#if canImport(Glibc)
import Glibc
#endif

/// `GET /api/ops/context`: one snapshot of the system for a person or an agent. Every
/// section is built on its own; a section whose source fails answers
/// `{"status":"unavailable","error":…}` and the others still come.
enum ContextSnapshot {
    static func build(_ context: AppContext, now: UTCTime) -> JSONObject {
        var out = JSONObject([("generated_at", .string(now.iso8601))])
        out["summary"] = section { try summary(context, now: now) }
        out["deploy"] = section { try deploy(context) }
        out["services"] = section { try services(context) }
        out["db"] = section { try database(context) }
        out["frontend"] = section { try frontend(context) }
        out["alerts"] = section { try alerts(context) }
        return out
    }

    static func section(_ body: () throws -> JSON) -> JSON {
        do { return try body() } catch {
            return ["status": "unavailable", "error": .string(String("\(error)".prefix(300)))]
        }
    }

    static func summary(_ context: AppContext, now: UTCTime) throws -> JSON {
        let text = try context.database.run { db in
            try ActivityRoutes.cache(db, context).answer(.summary(date: now.dateString, userCents: context.config.dailyCostPerUserCents,
                                                                  globalCents: context.config.dailyCostGlobalCents), now: now)
        }
        return try JSON.parse(text)
    }

    static func deploy(_ context: AppContext) throws -> JSON {
        var out = JSONObject([
            ("version", .string(BuildInfo.version)), ("git_sha", .string(BuildInfo.gitSHA)),
            ("build_hash", .from(BuildInfo.binarySHA256.map { "sha256:" + $0 })),
            ("worker", ["pid": .int(Int64(getpid())),
                        "started_at": .from(BuildInfo.startedAtSeconds.map { UTCTime(seconds: $0).iso8601 })]),
        ])
        out["migrations"] = section {
            let known = try MigrationSource.load(directory: context.config.migrationsDirectory)
            let status = try context.database.run { try MigrationRunner(connection: $0).status(known) }
            let applied = status.filter { $0.state == .applied }
            return ["applied": .int(Int64(applied.count)),
                    "latest": applied.last.map { ["version": .int(Int64($0.version)), "name": .string($0.name),
                                                  "applied_at": .from($0.appliedAt)] } ?? .null,
                    "pending": .array(status.filter { $0.state == .pending }.map { .string(String(format4($0.version)) + "_" + $0.name) }),
                    "changed": .array(status.filter { $0.state == .changed }.map { .string(String(format4($0.version)) + "_" + $0.name) })]
        }
        out["monitors"] = section {
            let r = try context.database.run { db in try db.query("""
                SELECT instance, active, version, \(micros("started_at")), \(micros("heartbeat_at"))
                FROM ops.monitor_instances WHERE heartbeat_at > now() - interval '1 minute' ORDER BY instance
                """) }
            return .array((0..<r.rowCount).map { i in
                ["instance": .from(r.string(i, 0)), "active": .from(r.bool(i, 1)), "version": .from(r.string(i, 2)),
                 "started_at": .from(r.time(i, 3)?.iso8601),
                 "heartbeat_at": .from(r.time(i, 4)?.iso8601)]
            })
        }
        out["tickers"] = section {
            let r = try context.database.run { db in try db.query("""
                SELECT instance, pid, clients, \(micros("updated_at")) FROM ops.ticker_stats
                WHERE updated_at > now() - interval '15 seconds' ORDER BY instance
                """) }
            return .array((0..<r.rowCount).map { i in
                ["instance": .from(r.string(i, 0)), "pid": .from(r.int(i, 1)), "clients": .from(r.int(i, 2)),
                 "updated_at": .from(r.time(i, 3)?.iso8601)]
            })
        }
        return .object(out)
    }

    static func services(_ context: AppContext) throws -> JSON {
        let r = try context.database.run { db in try db.query("""
            SELECT s.name, s.kind, coalesce(st.status, 'unknown'), st.response_ms, st.trend, st.anomaly,
                   \(micros("st.checked_at")), st.message
            FROM ops.monitor_services s LEFT JOIN ops.service_status st ON st.service = s.name
            WHERE s.active ORDER BY s.name
            """) }
        var services = JSONObject()
        var worst = "healthy"
        let rank = ["healthy": 0, "unknown": 1, "degraded": 2, "down": 3]
        for i in 0..<r.rowCount {
            let status = r.string(i, 2) ?? "unknown"
            if rank[status, default: 1] > rank[worst, default: 0] { worst = status }
            services[r.string(i, 0) ?? "?"] = ["kind": .from(r.string(i, 1)), "status": .string(status),
                                               "response_ms": .from(r.double(i, 3)), "trend": .from(r.string(i, 4)),
                                               "anomaly": .from(r.bool(i, 5)),
                                               "checked_at": .from(r.time(i, 6)?.iso8601),
                                               "message": .from(r.string(i, 7))]
        }
        return ["status": .string(r.rowCount == 0 ? "unknown" : worst), "count": .int(Int64(r.rowCount)),
                "services": .object(services)]
    }

    static func database(_ context: AppContext) throws -> JSON {
        let r = try context.database.run { db in try db.query("""
            SELECT pg_database_size(current_database()),
                   (SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()),
                   current_setting('max_connections')::int, current_setting('server_version')
            """) }
        return ["size_bytes": .from(r.int(0, 0)), "connections": .from(r.int(0, 1)), "max_connections": .from(r.int(0, 2)),
                "server_version": .from(r.string(0, 3))]
    }

    static func frontend(_ context: AppContext) throws -> JSON {
        try context.database.run { db in
            let last = try db.query("""
                SELECT build_hash, \(micros("received_at")) FROM ops.frontend_logs
                WHERE build_hash IS NOT NULL ORDER BY received_at DESC LIMIT 1
                """)
            let byRoute = try db.query("""
                SELECT route, count(*) FROM ops.frontend_logs WHERE received_at > now() - interval '1 hour'
                GROUP BY route ORDER BY count(*) DESC, route LIMIT 50
                """)
            var total: Int64 = 0
            let routes: [JSON] = (0..<byRoute.rowCount).map { i in
                total += byRoute.int(i, 1) ?? 0
                return ["route": .from(byRoute.string(i, 0)), "errors": .from(byRoute.int(i, 1))]
            }
            return ["last_build_hash": .from(last.rowCount > 0 ? last.string(0, 0) : nil),
                    "last_seen_at": .from(last.rowCount > 0 ? last.time(0, 1)?.iso8601 : nil),
                    "errors_last_hour": .int(total), "errors_last_hour_by_route": .array(routes)]
        }
    }

    static func alerts(_ context: AppContext) throws -> JSON {
        let r = try context.database.run { db in try db.query("""
            SELECT id, rule, severity, state, title, service, \(micros("last_fired_at")), fire_count
            FROM ops.alerts WHERE state <> 'resolved' ORDER BY (severity = 'critical') DESC, last_fired_at DESC LIMIT 50
            """) }
        var firing: Int64 = 0
        let items: [JSON] = (0..<r.rowCount).map { i in
            if r.string(i, 3) == "firing" { firing += 1 }
            return ["id": .from(r.int(i, 0)), "rule": .from(r.string(i, 1)), "severity": .from(r.string(i, 2)),
                    "state": .from(r.string(i, 3)), "title": .from(r.string(i, 4)), "service": .from(r.string(i, 5)),
                    "last_fired_at": .from(r.time(i, 6)?.iso8601), "fire_count": .from(r.int(i, 7))]
        }
        return ["open": .int(Int64(r.rowCount)), "firing": .int(firing), "alerts": .array(items)]
    }

    static func format4(_ v: Int) -> String {
        let s = String(v)
        return String(repeating: "0", count: max(0, 4 - s.count)) + s
    }

}

enum ContextRoutes {
    static func context(_ request: Request, _ context: AppContext) throws -> Response {
        _ = try QueryParameters(request, allowed: [])
        return .json(.object(ContextSnapshot.build(context, now: .now())))
    }
}

import OpsHTTP
import OpsJSON
import OpsLog

/// Liveness and the hello-world route.
enum HealthRoutes {
    /// `GET /api/ops/healthz`: public liveness with a database round-trip that reads one row
    /// (the newest applied migration). 503 `database_unavailable` while Postgres is down.
    static func healthz(_ request: Request, _ context: AppContext) throws -> Response {
        let row = try context.database.run { db in
            try db.query("SELECT version, name FROM ops.schema_migrations ORDER BY version DESC LIMIT 1")
        }
        let schema: JSON = row.rowCount == 1
            ? ["version": .from(row.int(0, 0)), "name": .from(row.string(0, 1))]
            : .null
        return .json(["status": "ok", "time": .string(Timestamp.iso8601Now()),
                      "database": ["status": "ok", "schema": schema]])
    }

    /// `GET /api/ops/ping`: answers without touching the database. The ceiling that
    /// benchmarks compare database routes with, and a check that the worker itself is up.
    static func ping(_ request: Request, _ context: AppContext) throws -> Response {
        .json(["ok": true])
    }

    /// `/api/ws` reached the FastCGI workers: nginx did not route the upgrade to the ticker.
    static func tickerElsewhere(_ request: Request, _ context: AppContext) throws -> Response {
        throw APIError(status: 426, code: "upgrade_required",
                       message: "The live ticker is a WebSocket: connect with an Upgrade request to /api/ws.")
    }
}

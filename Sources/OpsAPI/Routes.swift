import OpsHTTP

/// Every route of the FastCGI workers, with who may call it. This table is the one place
/// that decides access (nginx's auth_request mirrors it; tests check both).
public enum Routes {
    public static func table() -> [Route<AppContext>] {
        [
            Route("GET", "/api/ops/healthz", access: .publicRoute,
                  summary: "Liveness with a database round-trip", handler: HealthRoutes.healthz),
            Route("GET", "/api/ops/ping", access: .publicRoute,
                  summary: "Hello world without the database", handler: HealthRoutes.ping),
            Route("POST", "/api/ops/login", access: .publicRoute,
                  summary: "Exchange an API token or JWT for a session cookie", handler: AuthRoutes.login),
            Route("POST", "/api/ops/logout", access: .publicRoute,
                  summary: "Clear the session cookie", handler: AuthRoutes.logout),
            Route("GET", "/api/ops/whoami", access: .authenticated,
                  summary: "The caller's subject and role", handler: AuthRoutes.whoami),
            Route("POST", "/api/ops/ingest", access: .ingest,
                  summary: "Ingest agents, runs, messages, LLM calls and heartbeats (NDJSON or JSON array)",
                  handler: ActivityRoutes.ingest),
            Route("POST", "/api/ops/budget/check", access: .ingest,
                  summary: "Budget guard for one user", handler: ActivityRoutes.budgetCheck),
            Route("GET", "/api/ops/summary", access: .admin,
                  summary: "Today's KPIs, budgets and top agents", handler: ActivityRoutes.summary),
            Route("GET", "/api/ops/timeseries", access: .admin,
                  summary: "Zero-filled hourly or daily series", handler: ActivityRoutes.timeseries),
            Route("GET", "/api/ops/top", access: .admin,
                  summary: "Top agents, users or models in a window", handler: ActivityRoutes.top),
            Route("GET", "/api/v1/ops/overview", access: .admin,
                  summary: "Runs by state and LLM usage over 24h or 7d", handler: ActivityRoutes.overview),
            Route("GET", "/api/v1/ops/queue", access: .admin,
                  summary: "Queues from their latest heartbeats", handler: ActivityRoutes.queue),
            // Served by the ticker process (nginx proxies it after auth_request); listed here so
            // the auth check knows who may connect. Viewers pass nginx and get 4403 from the ticker.
            Route("GET", "/api/ws", access: .authenticated,
                  summary: "Live ticker WebSocket (served by opsplane ticker)", handler: HealthRoutes.tickerElsewhere),
            Route("GET", "/api/ops/tokens", access: .admin,
                  summary: "API tokens (never the secrets)", handler: TokenRoutes.list),
            Route("POST", "/api/ops/tokens/{id}/revoke", access: .admin,
                  summary: "Revoke an API token", handler: TokenRoutes.revoke),
        ]
    }

    public static func router() -> Router<AppContext> { Router(table()) }
}

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
        ]
    }

    public static func router() -> Router<AppContext> { Router(table()) }
}

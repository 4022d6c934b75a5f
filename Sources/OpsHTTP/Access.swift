/// Who may call a route. nginx's `auth_request` establishes the caller's role; the workers
/// check it again so that a request that bypasses nginx is still refused.
public enum Access: String, Sendable, CaseIterable {
    /// Anyone (health checks, the beacon endpoint, the sign-in page).
    case publicRoute = "public"
    /// Any authenticated caller (admin or viewer), for example the HUD script's probe.
    case authenticated
    /// Admins only: every read of ops data.
    case admin
    /// The host app's backend service token: ingest, heartbeats, budget checks.
    case ingest

    /// nil when `role` may call the route, else the error to answer.
    public func check(role: String?) -> APIError? {
        switch self {
        case .publicRoute:
            return nil
        case .authenticated:
            guard let role, !role.isEmpty else { return .unauthenticated() }
            return role == "admin" || role == "viewer" ? nil : .forbidden()
        case .admin:
            guard let role, !role.isEmpty else { return .unauthenticated() }
            return role == "admin" ? nil : .forbidden("This route is for admins only.")
        case .ingest:
            guard let role, !role.isEmpty else { return .unauthenticated() }
            return role == "ingest" ? nil : .forbidden("This route takes an ingest service token.")
        }
    }
}

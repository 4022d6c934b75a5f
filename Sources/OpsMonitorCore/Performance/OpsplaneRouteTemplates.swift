/// The path patterns of Opsplane's route table (OpsAPI `Routes.table()`, printed by
/// `opsplane routes`), the groups the access-log tail counts requests under. The monitor
/// does not link the API target, so the list is kept here; the end-to-end test
/// `test_monitor_perf.py::test_every_route_of_the_table_has_its_group` walks `opsplane
/// routes` through nginx and fails when a route is missing from this list.
public enum OpsplaneRouteTemplates {
    public static let all: [String] = [
        "/api/ops/healthz",
        "/api/ops/ping",
        "/api/ops/login",
        "/api/ops/logout",
        "/api/ops/whoami",
        "/api/ops/ingest",
        "/api/ops/budget/check",
        "/api/ops/summary",
        "/api/ops/timeseries",
        "/api/ops/top",
        "/api/v1/ops/overview",
        "/api/v1/ops/queue",
        "/api/monitoring/health",
        "/api/monitoring/health/module/{name}",
        "/api/monitoring/performance",
        "/api/monitoring/database",
        "/api/monitoring/db/pool",
        "/api/monitoring/cache/stats",
        "/api/monitoring/workers/status",
        "/api/monitoring/events",
        "/api/monitoring/events/history",
        "/operator/system/health",
        "/operator/system/metrics",
        "/operator/system/capacity",
        "/operator/system/aggregates",
        "/operator/system/errors",
        "/api/ops/alerts",
        "/api/ops/alerts/{id}",
        "/api/ops/alerts/{id}/ack",
        "/api/ops/silences",
        "/api/ops/frontend-log",
        "/api/ops/frontend-logs",
        "/api/ops/logs",
        "/api/ops/context",
        "/api/ops/support-bundle",
        "/api/ws",
        "/api/ops/tokens",
        "/api/ops/tokens/{id}/revoke",
    ]
}

/// A route template (`/api/ops/alerts/{id}/ack`) split into literal and parameter segments.
public struct RouteTemplate: Sendable, Equatable {
    public enum Segment: Sendable, Equatable {
        case literal([UInt8])
        case parameter
    }
    public let text: String
    public let segments: [Segment]

    /// nil when `text` is not a usable template (see `problem`).
    public init?(_ text: String) {
        guard Self.problem(text) == nil else { return nil }
        self.text = text
        segments = text.split(separator: "/").map { seg in
            seg.hasPrefix("{") && seg.hasSuffix("}") ? .parameter : .literal(Array(seg.utf8))
        }
    }

    /// Why `text` cannot be a template, or nil.
    public static func problem(_ text: String) -> String? {
        guard text.hasPrefix("/") else { return "a route template must start with /" }
        guard text.utf8.count <= 200 else { return "a route template is at most 200 bytes" }
        guard !text.contains("?") && !text.contains("%") else { return "a route template holds no ? or %" }
        guard text != "static" && text != "other" else { return "static and other are reserved group names" }
        for seg in text.split(separator: "/") where seg.contains("{") || seg.contains("}") {
            guard seg.hasPrefix("{") && seg.hasSuffix("}") && seg.count > 2
                && !seg.dropFirst().dropLast().contains(where: { $0 == "{" || $0 == "}" }) else {
                return "a parameter is a whole segment such as {id}"
            }
        }
        return nil
    }
}

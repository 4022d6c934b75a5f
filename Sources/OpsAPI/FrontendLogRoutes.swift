import OpsBeacon
import OpsHTTP
import OpsJSON
import OpsLedger

/// Browser error reports: the public beacon endpoint and the admin read-out.
enum FrontendLogRoutes {
    /// `POST /api/ops/frontend-log` (public, rate-limited per client by nginx): a
    /// `navigator.sendBeacon` body (`text/plain` or JSON) holding one JSON object. 204 once the
    /// report is committed; 413 over the size cap, 400 for anything but a valid object, 429
    /// with `Retry-After` when its fingerprint is over its per-minute budget. Every refusal is
    /// counted by reason.
    static func ingest(_ request: Request, _ context: AppContext) throws -> Response {
        let report: BeaconReport
        do {
            report = try BeaconParser.parse(request.body, maxBytes: context.config.beaconMaxBytes)
        } catch {
            try? context.database.run { try FrontendLogStore(connection: $0).countDrop(error.code) }
            throw APIError(status: error.status, code: error.code == "too_large" ? "body_too_large" : error.code,
                           message: error.message)
        }
        let outcome = try context.database.run {
            try FrontendLogStore(connection: $0).store(report, perFingerprintPerMinute: context.config.beaconPerFingerprintPerMinute)
        }
        switch outcome {
        case .stored:
            return .noContent()
        case .throttled(let seconds):
            try? context.database.run { try FrontendLogStore(connection: $0).countDrop("fingerprint_rate") }
            throw APIError(status: 429, code: "rate_limited",
                           message: "This error (fingerprint \(report.fingerprint)) was reported more than \(context.config.beaconPerFingerprintPerMinute) times this minute; the rest of the minute's reports are counted, not stored.",
                           headers: [HTTPHeader("Retry-After", String(seconds))])
        }
    }

    /// `GET /api/ops/frontend-logs?since=5m&route=/page&group=1&limit=100`.
    static func list(_ request: Request, _ context: AppContext) throws -> Response {
        let q = try QueryParameters(request, allowed: ["since", "route", "group", "limit"])
        let sinceText = q.query["since"] ?? "1h"
        guard let since = RelativeDuration.seconds(sinceText, maxSeconds: 7 * 86_400) else {
            throw APIError.badRequest("invalid_parameter",
                "Parameter 'since' must be a duration like 30s, 5m, 2h or 7d (at most 7d), not '\(sinceText.prefix(64))'.")
        }
        // "(other)" names the shared ring of routes beyond the cap; anything else is reduced
        // to its template the way reports are.
        let route = q.query["route"].map { $0 == FrontendLogStore.otherRoute ? $0 : RouteTemplate.of($0) }
        let grouped: Bool
        switch q.query["group"] {
        case nil, "0", "false": grouped = false
        case "1", "true": grouped = true
        case let other?:
            throw APIError.badRequest("invalid_parameter", "Parameter 'group' must be 1 or 0, not '\(other.prefix(64))'.")
        }
        let limit = try q.integer("limit", in: 1...500, fallback: 100)
        return .json(try context.database.run { db in
            let store = FrontendLogStore(connection: db)
            let counters = try store.counters(route: route)
            var answer = JSONObject([("since", .string(sinceText)), ("route", .from(route)), ("grouped", .bool(grouped))])
            if grouped {
                answer["groups"] = .array(try store.groups(sinceSeconds: since, route: route, limit: limit))
            } else {
                answer["entries"] = .array(try store.entries(sinceSeconds: since, route: route, limit: limit))
            }
            answer["received_total"] = .int(counters.written)
            answer["evicted"] = .int(counters.evicted)
            answer["dropped"] = counters.dropped
            answer["fingerprint_version"] = .string(Fingerprint.version)
            return .object(answer)
        })
    }
}

import OpsBeacon
import OpsHTTP
import OpsJSON
import OpsLedger

/// Browser error reports: the public beacon endpoint and the admin read-out.
enum FrontendLogRoutes {
    /// `POST /api/ops/frontend-log` (public, rate-limited per client by nginx): a
    /// `navigator.sendBeacon` body (`text/plain` or JSON) holding one JSON object. 204 once the
    /// report is in the worker's queue (written within the flush interval, see
    /// `FrontendLogQueue`); 413 over the size cap, 400 for anything but a valid object, 429
    /// with `Retry-After` when its fingerprint is over its per-minute budget, 503 with
    /// `Retry-After` when the queue is full. Every refusal is counted by reason.
    static func ingest(_ request: Request, _ context: AppContext) throws -> Response {
        guard let queue = context.beacons else {
            throw APIError(status: 503, code: "beacons_unavailable", message: "This process does not take browser reports.")
        }
        let report: BeaconReport
        do {
            report = try BeaconParser.parse(request.body, maxBytes: context.config.beaconMaxBytes)
        } catch {
            queue.countDrop(error.code)
            throw APIError(status: error.status, code: error.code == "too_large" ? "body_too_large" : error.code,
                           message: error.message)
        }
        switch queue.offer(report, bytes: request.body.count) {
        case .accepted:
            return .noContent()
        case .throttled(let seconds):
            throw APIError(status: 429, code: "rate_limited",
                           message: "This error (fingerprint \(report.fingerprint)) was reported more than \(context.config.beaconPerFingerprintPerMinute) times this minute; the rest of the minute's reports are counted, not stored.",
                           headers: [HTTPHeader("Retry-After", String(seconds))])
        case .queueFull:
            throw APIError(status: 503, code: "queue_full",
                           message: "Reports arrive faster than the database takes them; this one was counted, not stored.",
                           headers: [HTTPHeader("Retry-After", "1")])
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

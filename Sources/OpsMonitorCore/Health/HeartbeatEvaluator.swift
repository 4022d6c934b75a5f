import OpsJSON

/// The newest heartbeat of one pushed component (a row of ops.heartbeats).
public struct HeartbeatMember: Sendable, Equatable {
    public var component: String
    public var status: String
    /// The heartbeat's own timestamp (seconds since the epoch), as the component pushed it.
    public var time: Double
    public var metrics: JSON

    public init(component: String, status: String, time: Double, metrics: JSON = .object(JSONObject())) {
        self.component = component
        self.status = status
        self.time = time
        self.metrics = metrics
    }
}

/// Staleness of components that push heartbeats (a single component, or all components of a
/// type: workers, queues, models). A member is bad when its newest heartbeat is older than
/// the stale limit or it reports itself down; the service is down when every member is bad,
/// degraded when some are (or one reports itself degraded), healthy otherwise, unknown when
/// nobody has pushed yet.
public enum HeartbeatEvaluator {
    /// Pushed statuses read as down or degraded; anything else (ok, healthy, up, idle, busy…) is fine.
    public static let downStatuses: Set<String> = ["down", "failed", "failing", "error", "dead", "stopped", "unhealthy", "critical"]
    public static let degradedStatuses: Set<String> = ["degraded", "warning", "warn", "slow", "overloaded"]

    /// Members listed in the metrics; a type with thousands of components keeps the rows small.
    public static let maxMembersListed = 100

    public static func evaluate(_ members: [HeartbeatMember], now: Double, staleAfterSeconds: Double) -> ProbeResult {
        guard !members.isEmpty else {
            return ProbeResult(outcome: .noData, message: "no heartbeats received yet",
                               metrics: metrics(members, now: now, stale: 0, staleAfter: staleAfterSeconds))
        }
        var stale = 0, down = 0, degraded = 0
        var staleNames: [String] = [], downNames: [String] = []
        for m in members {
            let status = m.status.lowercased()
            if now - m.time > staleAfterSeconds { stale += 1; staleNames.append(m.component) }
            else if downStatuses.contains(status) { down += 1; downNames.append(m.component) }
            else if degradedStatuses.contains(status) { degraded += 1 }
        }
        let m = metrics(members, now: now, stale: stale, staleAfter: staleAfterSeconds)
        let bad = stale + down
        let n = members.count
        if bad == n {
            if stale > 0 {
                let message = n == 1 ? "\(members[0].component): no heartbeat for \(Int(now - members[0].time)) s (stale after \(Int(staleAfterSeconds)) s)"
                                     : "all \(n) components stale or down (\(stale) stale)"
                return .failed(message, metrics: m, type: "stale")
            }
            return .failed(n == 1 ? "\(members[0].component) reports \(members[0].status)" : "all \(n) components report down",
                           metrics: m, type: "probe_failed")
        }
        if bad > 0 || degraded > 0 {
            var parts: [String] = []
            if stale > 0 { parts.append("\(stale) of \(n) stale (\(list(staleNames)))") }
            if down > 0 { parts.append("\(down) of \(n) down (\(list(downNames)))") }
            if degraded > 0 { parts.append("\(degraded) of \(n) degraded") }
            return ProbeResult(outcome: .impaired, message: parts.joined(separator: ", "), metrics: m)
        }
        return ProbeResult(outcome: .ok, metrics: m)
    }

    static func list(_ names: [String]) -> String {
        names.count <= 5 ? names.joined(separator: ", ") : names.prefix(5).joined(separator: ", ") + ", …"
    }

    static func metrics(_ members: [HeartbeatMember], now: Double, stale: Int, staleAfter: Double) -> JSON {
        let oldest = members.map { now - $0.time }.max() ?? 0
        let listed = members.sorted { $0.component < $1.component }.prefix(maxMembersListed).map { m -> JSON in
            .object(JSONObject([("component", .string(m.component)), ("status", .string(m.status)),
                                ("age_s", .double(rounded(now - m.time))), ("metrics", m.metrics)]))
        }
        return .object(JSONObject([
            ("components", .int(Int64(members.count))),
            ("stale", .int(Int64(stale))),
            ("stale_after_s", .double(staleAfter)),
            ("oldest_age_s", .double(rounded(oldest))),
            ("members", .array(Array(listed))),
        ]))
    }

    static func rounded(_ v: Double) -> Double { (v * 10).rounded() / 10 }
}

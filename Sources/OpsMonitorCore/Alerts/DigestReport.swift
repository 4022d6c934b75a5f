import OpsJSON

/// The daily digest's figures: one UTC day ("yesterday" when it is sent) against the 7 days
/// before it, the day's top agents against their own 7-day averages, and the open alerts.
/// Definitions follow the summary's: runs by start time; cost, errors (failed runs) and the
/// p95 duration (successful runs) by finish time. Stored as the outbox row's payload and
/// rendered when sent.
public struct DigestReport: Sendable, Equatable {
    public struct Totals: Sendable, Equatable {
        public var runs: Double
        public var costUSD: Double?
        public var errors: Double
        public var p95Millis: Double?
        public init(runs: Double, costUSD: Double?, errors: Double, p95Millis: Double?) {
            self.runs = runs
            self.costUSD = costUSD
            self.errors = errors
            self.p95Millis = p95Millis
        }
    }
    public struct Agent: Sendable, Equatable {
        public var agentID: String
        public var name: String?
        public var runs: Int64
        public var costUSD: Double?
        /// Runs per day over the 7 days before.
        public var averageRuns7d: Double
        public init(agentID: String, name: String?, runs: Int64, costUSD: Double?, averageRuns7d: Double) {
            self.agentID = agentID
            self.name = name
            self.runs = runs
            self.costUSD = costUSD
            self.averageRuns7d = averageRuns7d
        }
    }
    public struct Alert: Sendable, Equatable {
        public var id: Int64
        public var severity: AlertSeverity
        public var title: String
        public var service: String?
        public var state: String
        public init(id: Int64, severity: AlertSeverity, title: String, service: String?, state: String) {
            self.id = id
            self.severity = severity
            self.title = title
            self.service = service
            self.state = state
        }
    }

    /// `YYYY-MM-DD` (UTC).
    public var day: String
    public var totals: Totals
    /// Per-day averages over the 7 days before `day` (p95: over those 7 days' runs).
    public var average7d: Totals
    public var topAgents: [Agent]
    public var openAlerts: Int64
    public var openBySeverity: [AlertSeverity: Int64]
    /// The most severe and newest open alerts (a few).
    public var alerts: [Alert]

    public init(day: String, totals: Totals, average7d: Totals, topAgents: [Agent], openAlerts: Int64,
                openBySeverity: [AlertSeverity: Int64], alerts: [Alert]) {
        self.day = day
        self.totals = totals
        self.average7d = average7d
        self.topAgents = topAgents
        self.openAlerts = openAlerts
        self.openBySeverity = openBySeverity
        self.alerts = alerts
    }

    // MARK: JSON (the outbox payload)

    public var json: JSON {
        func encode(_ t: Totals) -> JSON {
            ["runs": .double(t.runs), "cost_usd": .from(t.costUSD), "errors": .double(t.errors), "p95_ms": .from(t.p95Millis)]
        }
        return [
            "type": "digest", "day": .string(day), "totals": encode(totals), "average_7d": encode(average7d),
            "top_agents": .array(topAgents.map {
                ["agent_id": .string($0.agentID), "name": .from($0.name), "runs": .int($0.runs), "cost_usd": .from($0.costUSD),
                 "average_runs_7d": .double($0.averageRuns7d)]
            }),
            "open_alerts": .int(openAlerts),
            "open_by_severity": .object(JSONObject(AlertSeverity.allCases.map { ($0.rawValue, .int(openBySeverity[$0] ?? 0)) })),
            "alerts": .array(alerts.map {
                ["id": .int($0.id), "severity": .string($0.severity.rawValue), "title": .string($0.title),
                 "service": .from($0.service), "state": .string($0.state)]
            }),
        ]
    }

    public init?(json: JSON) {
        guard json["type"]?.stringValue == "digest", let day = json["day"]?.stringValue,
              let t = json["totals"], let a = json["average_7d"] else { return nil }
        func totals(_ j: JSON) -> Totals {
            Totals(runs: j["runs"]?.doubleValue ?? 0, costUSD: j["cost_usd"]?.doubleValue, errors: j["errors"]?.doubleValue ?? 0,
                   p95Millis: j["p95_ms"]?.doubleValue)
        }
        self.day = day
        self.totals = totals(t)
        self.average7d = totals(a)
        self.topAgents = (json["top_agents"]?.arrayValue ?? []).compactMap { j in
            guard let id = j["agent_id"]?.stringValue else { return nil }
            return Agent(agentID: id, name: j["name"]?.stringValue, runs: j["runs"]?.intValue ?? 0, costUSD: j["cost_usd"]?.doubleValue,
                         averageRuns7d: j["average_runs_7d"]?.doubleValue ?? 0)
        }
        self.openAlerts = json["open_alerts"]?.intValue ?? 0
        var by: [AlertSeverity: Int64] = [:]
        for s in AlertSeverity.allCases { if let n = json["open_by_severity"]?[s.rawValue]?.intValue, n > 0 { by[s] = n } }
        self.openBySeverity = by
        self.alerts = (json["alerts"]?.arrayValue ?? []).compactMap { j in
            guard let id = j["id"]?.intValue, let title = j["title"]?.stringValue else { return nil }
            return Alert(id: id, severity: j["severity"]?.stringValue.flatMap(AlertSeverity.init(rawValue:)) ?? .warning,
                         title: title, service: j["service"]?.stringValue, state: j["state"]?.stringValue ?? "firing")
        }
    }
}

import OpsJSON

/// What the rules look at, loaded once per evaluation. A source that is nil could not be
/// read this time (its rules are skipped, their state left as it was); a source that is
/// present but empty has no data (its open alerts count a good evaluation).
public struct AlertInputs: Sendable {
    public var api: AlertAPIWindow?
    public var services: [AlertServiceSample]?
    public var queues: [AlertQueueSample]?
    /// No recent capacity sample: an empty AlertDiskSample.
    public var disk: AlertDiskSample?
    public var budget: AlertBudgetSample?
    /// Failed runs per 5-minute window, oldest first; the last one is the current window.
    public var failures: [Int64]?

    public init(api: AlertAPIWindow? = nil, services: [AlertServiceSample]? = nil, queues: [AlertQueueSample]? = nil,
                disk: AlertDiskSample? = nil, budget: AlertBudgetSample? = nil, failures: [Int64]? = nil) {
        self.api = api
        self.services = services
        self.queues = queues
        self.disk = disk
        self.budget = budget
        self.failures = failures
    }

    public func has(_ source: AlertSource) -> Bool {
        switch source {
        case .api: return api != nil
        case .services: return services != nil
        case .queues: return queues != nil
        case .disk: return disk != nil
        case .budget: return budget != nil
        case .failures: return failures != nil
        }
    }
}

/// API traffic of the last 5 minutes, all route groups together.
public struct AlertAPIWindow: Sendable, Equatable {
    public var requests: Int64
    public var errors: Int64
    /// LatencyHistogram counts.
    public var latencyHistogram: [Int64]
    public init(requests: Int64, errors: Int64, latencyHistogram: [Int64]) {
        self.requests = requests
        self.errors = errors
        self.latencyHistogram = latencyHistogram
    }
}

/// One configured service's latest status (ops.service_status).
public struct AlertServiceSample: Sendable, Equatable {
    public var name: String
    public var kind: String
    public var status: String
    public var message: String?
    public var consecutiveFailures: Int64
    public var metrics: JSON
    /// When it was probed (identifies the probe result: the same result is counted once).
    public var checkedAt: String?
    public init(name: String, kind: String, status: String, message: String? = nil, consecutiveFailures: Int64 = 0,
                metrics: JSON = [:], checkedAt: String?) {
        self.name = name
        self.kind = kind
        self.status = status
        self.message = message
        self.consecutiveFailures = consecutiveFailures
        self.metrics = metrics
        self.checkedAt = checkedAt
    }
}

/// A queue's latest heartbeat (`metrics.depth`).
public struct AlertQueueSample: Sendable, Equatable {
    public var name: String
    public var depth: Double
    public var ts: String
    public init(name: String, depth: Double, ts: String) { self.name = name; self.depth = depth; self.ts = ts }
}

/// The latest capacity sample's disks: "root" and each data directory.
public struct AlertDiskSample: Sendable, Equatable {
    public struct Entry: Sendable, Equatable {
        public var name: String
        public var path: String
        public var usedPercent: Double
        public init(name: String, path: String, usedPercent: Double) { self.name = name; self.path = path; self.usedPercent = usedPercent }
    }
    public var ts: String
    public var entries: [Entry]
    public init(ts: String, entries: [Entry]) { self.ts = ts; self.entries = entries }

    /// Reads ops.capacity_samples.disk (`{"root":{…,"used_pct"},"directories":[{"name",…}]}`).
    public static func parse(ts: String, disk: JSON) -> AlertDiskSample {
        var entries: [Entry] = []
        if let root = disk["root"], let pct = root["used_pct"]?.doubleValue {
            entries.append(Entry(name: "root", path: root["path"]?.stringValue ?? "/", usedPercent: pct))
        }
        for dir in disk["directories"]?.arrayValue ?? [] {
            guard let name = dir["name"]?.stringValue, let pct = dir["used_pct"]?.doubleValue else { continue }
            entries.append(Entry(name: name, path: dir["path"]?.stringValue ?? "", usedPercent: pct))
        }
        return AlertDiskSample(ts: ts, entries: entries)
    }
}

/// Today's (UTC) spend and runs, and the limits (0 = off), for the budget rules.
public struct AlertBudgetSample: Sendable, Equatable {
    public struct User: Sendable, Equatable {
        public var userID: String
        public var spentUSD: Double
        public var runs: Int64
        public init(userID: String, spentUSD: Double, runs: Int64) { self.userID = userID; self.spentUSD = spentUSD; self.runs = runs }
    }
    /// Identifies the load (the same figures are counted once).
    public var sample: String
    public var userLimitCents: Int64
    public var globalLimitCents: Int64
    public var runsLimit: Int64
    /// Users whose spend or runs may be near a limit (others count as fine).
    public var users: [User]
    public var globalSpentUSD: Double

    public init(sample: String, userLimitCents: Int64, globalLimitCents: Int64, runsLimit: Int64,
                users: [User], globalSpentUSD: Double) {
        self.sample = sample
        self.userLimitCents = userLimitCents
        self.globalLimitCents = globalLimitCents
        self.runsLimit = runsLimit
        self.users = users
        self.globalSpentUSD = globalSpentUSD
    }
}

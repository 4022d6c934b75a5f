/// One probe outcome as the health logic remembers it.
public struct ProbeSample: Sendable, Equatable {
    /// Seconds since the Unix epoch.
    public var time: Double
    /// Up (healthy or degraded) or not (down). Samples without data (unknown) are not kept.
    public var ok: Bool
    public var responseMillis: Double?

    public init(time: Double, ok: Bool, responseMillis: Double?) {
        self.time = time
        self.ok = ok
        self.responseMillis = responseMillis
    }
}

/// The recent samples of one service, oldest first, and what is derived from them: the error
/// count of the last hour, consecutive failures, the trend and the anomaly flag. Kept in
/// memory by the scheduler (and reloaded from ops.probe_samples when a monitor takes over).
/// Not thread-safe: one service is probed by one thread at a time.
public struct ServiceHistory: Sendable {
    public private(set) var samples: [ProbeSample] = []
    /// Samples are kept for this long, and at least the last `minimumKept`.
    public let keepSeconds: Double
    public let minimumKept: Int
    /// Failures in a row, newest last.
    public private(set) var consecutiveFailures = 0

    public static let errorWindowSeconds = 3600.0

    public init(keepSeconds: Double = 3600, minimumKept: Int = ResponseTimeAnomaly.baselineSize + 1) {
        self.keepSeconds = keepSeconds
        self.minimumKept = minimumKept
    }

    /// The history a service needs: an hour for the error count, two trend windows, the
    /// anomaly baseline.
    public static func forInterval(_ intervalSeconds: Double) -> ServiceHistory {
        ServiceHistory(keepSeconds: max(errorWindowSeconds, 2 * HealthTrendDetector.windowSeconds(interval: intervalSeconds)))
    }

    public mutating func append(_ sample: ProbeSample) {
        samples.append(sample)
        consecutiveFailures = sample.ok ? 0 : consecutiveFailures + 1
        prune(now: sample.time)
    }

    /// Replaces the history with stored samples (oldest first), e.g. after a takeover.
    public mutating func load(_ stored: [ProbeSample]) {
        samples = stored.sorted { $0.time < $1.time }
        consecutiveFailures = 0
        for s in samples.reversed() { if s.ok { break }; consecutiveFailures += 1 }
        if let last = samples.last { prune(now: last.time) }
    }

    mutating func prune(now: Double) {
        let cutoff = now - keepSeconds
        var drop = 0
        while drop < samples.count - minimumKept, samples[drop].time < cutoff { drop += 1 }
        if drop > 0 { samples.removeFirst(drop) }
    }

    /// Failed probes in the last hour (to `now`).
    public func errorCount(now: Double) -> Int {
        let cutoff = now - Self.errorWindowSeconds
        var n = 0
        for s in samples.reversed() {
            if s.time < cutoff { break }
            if !s.ok { n += 1 }
        }
        return n
    }

    /// Response times of the last `limit` good samples before the newest one, oldest first:
    /// the anomaly baseline (the newest sample is the one being judged).
    public func baseline(limit: Int = ResponseTimeAnomaly.baselineSize) -> [Double] {
        var out: [Double] = []
        for s in samples.dropLast().reversed() {
            guard s.ok, let ms = s.responseMillis else { continue }
            out.append(ms)
            if out.count == limit { break }
        }
        return out.reversed()
    }
}

/// Improving or degrading: the last window against the one before it.
public enum HealthTrend: String, Sendable {
    case improving, degrading, stable
}

/// Compares the failure rate, then the mean response time of good samples, of the last window
/// with the previous one. Small changes fall in a dead band and read as stable, so that the
/// trend does not flip with every sample's jitter.
public enum HealthTrendDetector {
    /// A window holds at least 15 minutes and at least 5 probes.
    public static func windowSeconds(interval: Double) -> Double { max(900, 5 * interval) }
    /// Each window needs this many samples, or the trend is stable.
    public static let minimumSamples = 3
    /// The failure rate must move by at least 10 points…
    public static let failureRateBand = 0.10
    /// …or the mean response time by 20 % and at least 5 ms.
    public static let responseRelativeBand = 0.20
    public static let responseAbsoluteBandMillis = 5.0

    public static func trend(_ samples: [ProbeSample], now: Double, interval: Double) -> HealthTrend {
        let w = windowSeconds(interval: interval)
        var last: [ProbeSample] = [], previous: [ProbeSample] = []
        for s in samples {
            if s.time > now - w && s.time <= now { last.append(s) }
            else if s.time > now - 2 * w && s.time <= now - w { previous.append(s) }
        }
        return compare(last: last, previous: previous)
    }

    public static func compare(last: [ProbeSample], previous: [ProbeSample]) -> HealthTrend {
        guard last.count >= minimumSamples, previous.count >= minimumSamples else { return .stable }
        let fLast = failureRate(last), fPrev = failureRate(previous)
        if abs(fLast - fPrev) >= failureRateBand { return fLast > fPrev ? .degrading : .improving }
        guard let mLast = meanResponse(last), let mPrev = meanResponse(previous) else { return .stable }
        let band = max(responseRelativeBand * mPrev, responseAbsoluteBandMillis)
        if mLast > mPrev + band { return .degrading }
        if mLast < mPrev - band { return .improving }
        return .stable
    }

    static func failureRate(_ s: [ProbeSample]) -> Double {
        Double(s.filter { !$0.ok }.count) / Double(s.count)
    }

    static func meanResponse(_ s: [ProbeSample]) -> Double? {
        let values = s.compactMap { $0.ok ? $0.responseMillis : nil }
        guard values.count >= minimumSamples else { return nil }
        return values.reduce(0, +) / Double(values.count)
    }
}

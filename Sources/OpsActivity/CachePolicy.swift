/// When an expensive aggregate answer may be served from `ops.api_cache`.
///
/// - Data unchanged since the answer was computed, and the answer is younger than `maxAge`:
///   serve it (time-dependent numbers such as "errors in the last hour" may drift by at most
///   `maxAge`).
/// - Data changed: recompute if computing is cheap (small data: every answer is exact);
///   otherwise serve the cached answer until it is `maxAge` old, then recompute.
/// So answers are at most `maxAge` stale, and the cost of a request does not grow with the
/// data: at most one expensive computation per key per `maxAge`.
public struct CachePolicy: Sendable {
    public let maxAgeMillis: Double
    public let cheapMillis: Double

    public init(maxAgeMillis: Double, cheapMillis: Double) {
        self.maxAgeMillis = maxAgeMillis
        self.cheapMillis = cheapMillis
    }

    public struct Cached: Sendable {
        public let dataVersion: Int64
        public let ageMillis: Double
        public let computeMillis: Double

        public init(dataVersion: Int64, ageMillis: Double, computeMillis: Double) {
            self.dataVersion = dataVersion
            self.ageMillis = ageMillis
            self.computeMillis = computeMillis
        }
    }

    public enum Decision: Equatable, Sendable { case serveCached, recompute }

    public func decide(_ cached: Cached?, currentVersion: Int64) -> Decision {
        guard let cached else { return .recompute }
        if cached.ageMillis >= maxAgeMillis { return .recompute }
        if cached.dataVersion == currentVersion { return .serveCached }
        return cached.computeMillis <= cheapMillis ? .recompute : .serveCached
    }
}

/// Retry delays of a failed delivery: exponential (base · 2^(attempt-1)), capped, with "equal
/// jitter" (between half and all of the step) so that monitors retrying after one outage do
/// not all knock at once. There is no last attempt: a delivery is retried at the cap forever.
public struct DeliveryBackoff: Sendable, Equatable {
    public var baseSeconds: Double
    public var capSeconds: Double

    public init(baseSeconds: Double = 2, capSeconds: Double = 300) {
        self.baseSeconds = baseSeconds
        self.capSeconds = capSeconds
    }

    /// The delay before attempt `attempt + 1`, after `attempt` failures (1 = the first
    /// failure). `unit` is a random number in [0, 1).
    public func delay(afterFailures attempt: Int, unit: Double) -> Double {
        let n = max(1, attempt)
        // 2^30 · base is far past any cap; stop doubling there.
        var step = baseSeconds
        for _ in 1..<min(n, 31) { step *= 2; if step >= capSeconds { break } }
        step = min(step, capSeconds)
        let u = min(max(unit, 0), 1)
        return step / 2 + step / 2 * u
    }
}

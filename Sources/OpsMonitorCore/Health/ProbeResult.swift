import OpsJSON

/// A service's health as stored in ops.service_status and ops.probe_samples.
public enum HealthStatus: String, Sendable, CaseIterable {
    case healthy, degraded, down, unknown
}

/// What one probe found, before the status is decided. Probes fill this in and never throw:
/// every failure (refused, timed out, bad answer, stale heartbeat) is an outcome.
public struct ProbeResult: Sendable, Equatable {
    public enum Outcome: Sendable, Equatable {
        /// The service answered as expected.
        case ok
        /// It answered, but reports trouble itself (a pushed heartbeat status "degraded", some
        /// of a group's components stale).
        case impaired
        /// No usable answer: refused, bad status, protocol error, every component stale.
        case failed
        /// No answer within the probe's timeout.
        case timedOut
        /// Nothing to judge (a heartbeat target nobody pushes for yet).
        case noData
    }

    public var outcome: Outcome
    /// Round-trip time of the check (connect + request), nil when there was none.
    public var responseMillis: Double?
    /// One line for people: "HTTP 503", "connect: Connection refused", "2 of 5 stale".
    public var message: String?
    /// Kind-specific details (CONTRACT.md), `{}` when there are none.
    public var metrics: JSON
    /// Why a failed probe failed, for ops.system_errors: probe_failed, timeout, stale.
    public var failureType: String?

    public init(outcome: Outcome, responseMillis: Double? = nil, message: String? = nil,
                metrics: JSON = .object(JSONObject()), failureType: String? = nil) {
        self.outcome = outcome
        self.responseMillis = responseMillis
        self.message = message
        self.metrics = metrics
        self.failureType = failureType
    }

    public static func failed(_ message: String, responseMillis: Double? = nil, metrics: JSON = .object(JSONObject()),
                              type: String = "probe_failed") -> ProbeResult {
        ProbeResult(outcome: .failed, responseMillis: responseMillis, message: message, metrics: metrics, failureType: type)
    }

    public static func timedOut(_ message: String, afterMillis: Double? = nil) -> ProbeResult {
        ProbeResult(outcome: .timedOut, responseMillis: afterMillis, message: message, failureType: "timeout")
    }

    /// True when the service answered well enough to count as up (healthy or degraded).
    public var isUp: Bool { outcome == .ok || outcome == .impaired }
}

/// The status rule: down when the probe failed or timed out, unknown without data, degraded
/// when the answer was slow (response time above `degraded_ms`) or the service reports
/// trouble, healthy otherwise.
public enum HealthStatusRule {
    public static func status(of result: ProbeResult, degradedMillis: Double) -> HealthStatus {
        switch result.outcome {
        case .failed, .timedOut: return .down
        case .noData: return .unknown
        case .impaired: return .degraded
        case .ok:
            if let ms = result.responseMillis, ms > degradedMillis { return .degraded }
            return .healthy
        }
    }

    /// The message stored with a sample: the probe's own, or why a good answer is degraded.
    public static func message(of result: ProbeResult, status: HealthStatus, degradedMillis: Double) -> String? {
        if let m = result.message { return m }
        if status == .degraded, let ms = result.responseMillis {
            return "slow: \(formatMillis(ms)) ms > \(formatMillis(degradedMillis)) ms"
        }
        return nil
    }

    static func formatMillis(_ ms: Double) -> String {
        ms >= 100 ? String(Int(ms.rounded())) : String(Double(Int((ms * 10).rounded())) / 10)
    }
}

import Foundation
import OpsJSON
import OpsMonitorCore

/// One probe result with everything derived from the service's history, ready to be written
/// to ops.probe_samples and ops.service_status.
struct ProbeOutcomeRecord {
    var service: String
    /// Wall-clock seconds since the epoch, when the check started.
    var time: Double
    var status: HealthStatus
    var ok: Bool
    var responseMillis: Double?
    var message: String?
    var metrics: JSON
    var errorCount: Int
    var consecutiveFailures: Int
    var trend: HealthTrend
    var anomaly: Bool
    /// Set when this check turned the service down: (type, message) for ops.system_errors.
    var becameDown: (type: String, message: String)?
}

/// A configured service and what the monitor remembers of it. Only one check of a service
/// runs at a time; the lock guards against a takeover reloading history while an old check
/// is finishing.
final class ProbeServiceState {
    let config: ServiceConfig
    private let lock = NSLock()
    private var history: ServiceHistory
    private var lastStatus: HealthStatus?

    init(config: ServiceConfig) {
        self.config = config
        history = ServiceHistory.forInterval(config.intervalSeconds)
    }

    /// Restores what a previous active monitor left (after a restart or takeover).
    func restore(samples: [ProbeSample], lastStatus: HealthStatus?) {
        lock.lock(); defer { lock.unlock() }
        history = ServiceHistory.forInterval(config.intervalSeconds)
        history.load(samples)
        self.lastStatus = lastStatus
    }

    func apply(_ result: ProbeResult, at time: Double) -> ProbeOutcomeRecord {
        lock.lock(); defer { lock.unlock() }
        let status = HealthStatusRule.status(of: result, degradedMillis: config.degradedMillis)
        let goodMillis = result.isUp ? result.responseMillis : nil
        if result.outcome != .noData {
            history.append(ProbeSample(time: time, ok: result.isUp, responseMillis: goodMillis))
        }
        let anomaly = goodMillis.map { ResponseTimeAnomaly.isAnomaly($0, baseline: history.baseline()) } ?? false
        var becameDown: (String, String)? = nil
        if status == .down && lastStatus != .down {
            becameDown = (result.failureType ?? "probe_failed", result.message ?? "down")
        }
        lastStatus = status
        return ProbeOutcomeRecord(
            service: config.name, time: time, status: status, ok: result.isUp,
            responseMillis: result.responseMillis.map { ($0 * 1000).rounded() / 1000 },
            message: HealthStatusRule.message(of: result, status: status, degradedMillis: config.degradedMillis),
            metrics: result.metrics, errorCount: history.errorCount(now: time),
            consecutiveFailures: history.consecutiveFailures,
            trend: HealthTrendDetector.trend(history.samples, now: time, interval: config.intervalSeconds),
            anomaly: anomaly, becameDown: becameDown)
    }
}

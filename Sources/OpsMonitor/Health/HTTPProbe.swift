import OpsCurl
import OpsJSON
import OpsMonitorCore

/// HTTP: GET the target; an accepted status (any 2xx unless `expect_status` says otherwise)
/// within the timeout is up. A transport error or another status is down; slowness (above
/// `degraded_ms`) makes it degraded.
enum HTTPProbe {
    static func run(_ service: ServiceConfig) -> ProbeResult {
        let x = HTTPClient.perform(method: "GET", url: service.target, timeoutMillis: service.timeoutMillis)
        if x.timedOut { return .timedOut("HTTP: no answer within \(service.timeoutMillis) ms", afterMillis: x.totalMillis) }
        if let error = x.error { return .failed("HTTP: \(error)", responseMillis: nil) }
        let metrics: JSON = .object(JSONObject([("status_code", .int(Int64(x.status)))]))
        guard service.acceptsStatus(x.status) else {
            return .failed("HTTP \(x.status)", responseMillis: x.totalMillis, metrics: metrics)
        }
        return ProbeResult(outcome: .ok, responseMillis: x.totalMillis, metrics: metrics)
    }
}

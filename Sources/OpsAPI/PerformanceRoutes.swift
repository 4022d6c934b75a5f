import OpsHTTP
import OpsJSON

/// `/api/monitoring/performance`: API latency percentiles, request rate, error rate and
/// uptime over `range=1h|6h|24h|7d`, from the monitor's access-log aggregates.
enum PerformanceRoutes {
    static let performance = MonitoringRoutes.notYet
}

import OpsHTTP
import OpsJSON

/// `/operator/system/*` with the Operator System Dashboard seed's shapes.
enum OperatorRoutes {
    static let health = MonitoringRoutes.notYet
    static let metrics = MonitoringRoutes.notYet
    static let capacity = MonitoringRoutes.notYet
    static let aggregates = MonitoringRoutes.notYet
    static let errors = MonitoringRoutes.notYet
}

import OpsHTTP
import OpsJSON

/// Alerts: list, one with its history, acknowledge; silences.
enum AlertRoutes {
    static let list = MonitoringRoutes.notYet
    static let show = MonitoringRoutes.notYet
    static let acknowledge = MonitoringRoutes.notYet
    static let silences = MonitoringRoutes.notYet
    static let createSilence = MonitoringRoutes.notYet
}

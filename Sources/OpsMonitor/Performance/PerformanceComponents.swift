/// The nginx access-log tail and its per-minute API performance aggregates, and the hourly
/// and daily rollups of those minutes.
enum PerformanceComponents {
    static func make(_ context: MonitorContext) -> [MonitorComponent] {
        var components: [MonitorComponent] = [ApiRollupComponent()]
        if let log = context.monitorConfig.accessLog {
            components.insert(AccessLogTailComponent(config: log), at: 0)
        }
        return components
    }
}

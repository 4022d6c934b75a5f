/// The nginx access-log tail and its per-minute API performance aggregates.
enum PerformanceComponents {
    static func make(_ context: MonitorContext) -> [MonitorComponent] { [] }
}

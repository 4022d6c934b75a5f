/// Probes, host capacity, rollups and retention.
enum HealthComponents {
    static func make(_ context: MonitorContext) -> [MonitorComponent] {
        [ProbeScheduler(context: context), CapacitySampler(context: context), RollupRetention()]
    }
}

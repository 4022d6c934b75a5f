/// Every job of the monitor, one list per area (each area's file builds its own).
public enum MonitorComponents {
    public static func all(_ context: MonitorContext) -> [MonitorComponent] {
        HealthComponents.make(context) + PerformanceComponents.make(context) + AlertComponents.make(context)
    }
}

/// How ops.api_minutes and ops.api_rollups relate, shared by the monitor (which writes them)
/// and the API (which reads them).
public enum RollupPolicy {
    /// ops.monitor_state key holding `{"from": <Unix seconds>}`: the oldest minute the tail
    /// added since the rollup job last folded minutes into hours.
    public static let dirtyKey = "api_rollups_dirty_from"

    /// Minutes are kept 48 h; an hour that started more than this long ago may have lost
    /// minutes, so it is never recomputed from (or read as) minutes.
    public static let recomputableHours: Int64 = 47

    /// Where a 24h/7d read switches from hour rollups to minutes (Unix seconds, an hour
    /// boundary): rollups are exact for every hour before the dirty mark's hour, and for every
    /// hour when there is no mark (then this is the next hour: minutes are not needed).
    public static func minutesFrom(dirtyFrom: Int64?, now: Double) -> Int64 {
        let hour: Int64 = 3_600
        let current = Int64((now / Double(hour)).rounded(.down)) * hour
        guard let dirtyFrom else { return current + hour }
        let dirtyHour = Int64((Double(dirtyFrom) / Double(hour)).rounded(.down)) * hour
        return min(current + hour, max(dirtyHour, current - recomputableHours * hour))
    }
}

import OpsJSON

/// The figures the cache panel shows, read from the text of Redis's `INFO` reply
/// (`key:value` lines in `# Section` blocks).
public enum RedisInfo {
    public static func parse(_ text: String) -> [String: String] {
        var out: [String: String] = [:]
        for raw in text.split(whereSeparator: \.isNewline) {  // "\r\n" is one Character
            guard !raw.hasPrefix("#"), let colon = raw.firstIndex(of: ":") else { continue }
            out[String(raw[..<colon])] = String(raw[raw.index(after: colon)...])
        }
        return out
    }

    /// CONTRACT.md's redis metrics: hit_rate (0..1, null before any lookup), keyspace_hits,
    /// keyspace_misses, used_memory_bytes, maxmemory_bytes (0 = no limit), evicted_keys,
    /// connected_clients, ops_per_sec.
    public static func metrics(_ info: [String: String]) -> JSON {
        func int(_ key: String) -> Int64 { info[key].flatMap { Int64($0) } ?? 0 }
        let hits = int("keyspace_hits"), misses = int("keyspace_misses")
        let lookups = hits + misses
        return .object(JSONObject([
            ("hit_rate", lookups > 0 ? .double(Double(hits) / Double(lookups)) : .null),
            ("keyspace_hits", .int(hits)),
            ("keyspace_misses", .int(misses)),
            ("used_memory_bytes", .int(int("used_memory"))),
            ("maxmemory_bytes", .int(int("maxmemory"))),
            ("evicted_keys", .int(int("evicted_keys"))),
            ("connected_clients", .int(int("connected_clients"))),
            ("ops_per_sec", .int(int("instantaneous_ops_per_sec"))),
        ]))
    }
}

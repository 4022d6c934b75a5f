import OpsJSON

/// Parsers for the /proc files the capacity sampler reads, and the JSON of one
/// ops.capacity_samples row (CONTRACT.md). No I/O here.
public enum HostStats {
    /// /proc/meminfo: (MemTotal, MemAvailable) in bytes.
    public static func memory(meminfo: String) -> (total: Int64, available: Int64)? {
        var total: Int64?, available: Int64?, free: Int64?
        for line in meminfo.split(separator: "\n") {
            let parts = line.split(whereSeparator: { $0 == " " || $0 == ":" })
            guard parts.count >= 2, let kb = Int64(parts[1]) else { continue }
            switch parts[0] {
            case "MemTotal": total = kb * 1024
            case "MemAvailable": available = kb * 1024
            case "MemFree": free = kb * 1024
            default: break
            }
        }
        guard let total else { return nil }
        return (total, available ?? free ?? 0)
    }

    /// /proc/loadavg: the 1, 5 and 15 minute load averages.
    public static func load(loadavg: String) -> (Double, Double, Double)? {
        let p = loadavg.split(separator: " ")
        guard p.count >= 3, let a = Double(p[0]), let b = Double(p[1]), let c = Double(p[2]) else { return nil }
        return (a, b, c)
    }

    /// /proc/self/statm: resident set size in bytes (second field, in pages).
    public static func residentBytes(statm: String, pageSize: Int64) -> Int64? {
        let p = statm.split(separator: " ")
        guard p.count >= 2, let pages = Int64(p[1]) else { return nil }
        return pages * pageSize
    }

    /// A filesystem as statvfs sees it: used = total − free (as df counts it, including the
    /// blocks reserved for root), used_pct of what a user can get (used + available).
    public struct FileSystem: Sendable, Equatable {
        public var totalBytes: Int64
        public var freeBytes: Int64       // f_bfree
        public var availableBytes: Int64  // f_bavail
        public init(totalBytes: Int64, freeBytes: Int64, availableBytes: Int64) {
            self.totalBytes = totalBytes
            self.freeBytes = freeBytes
            self.availableBytes = availableBytes
        }
        public var usedBytes: Int64 { max(0, totalBytes - freeBytes) }
        /// df's Use%: used / (used + available).
        public var usedPercent: Double {
            let denominator = usedBytes + availableBytes
            return denominator > 0 ? (Double(usedBytes) / Double(denominator) * 1000).rounded() / 10 : 0
        }
    }

    public static func diskJSON(path: String, fs: FileSystem) -> JSONObject {
        JSONObject([("path", .string(path)), ("total_bytes", .int(fs.totalBytes)), ("used_bytes", .int(fs.usedBytes)),
                    ("free_bytes", .int(fs.availableBytes)), ("used_pct", .double(fs.usedPercent))])
    }

    /// One configured data directory: its filesystem (nil when statvfs failed) and the bytes
    /// under it (nil when the walk was skipped or cut short).
    public static func directoryJSON(name: String, path: String, fs: FileSystem?, sizeBytes: Int64?, error: String?) -> JSON {
        var o = JSONObject([("name", .string(name))])
        if let fs { for (k, v) in diskJSON(path: path, fs: fs).entries { o[k] = v } } else {
            o["path"] = .string(path)
            for k in ["total_bytes", "used_bytes", "free_bytes", "used_pct"] { o[k] = .null }
        }
        o["size_bytes"] = JSON.from(sizeBytes)
        if let error { o["error"] = .string(error) }
        return .object(o)
    }

    public static func memoryJSON(total: Int64, available: Int64, monitorRSS: Int64?) -> JSON {
        let used = max(0, total - available)
        let pct = total > 0 ? (Double(used) / Double(total) * 1000).rounded() / 10 : 0
        return .object(JSONObject([("total_bytes", .int(total)), ("available_bytes", .int(available)),
                                   ("used_bytes", .int(used)), ("used_pct", .double(pct)),
                                   ("monitor_rss_bytes", JSON.from(monitorRSS))]))
    }

    public static func loadJSON(_ l: (Double, Double, Double)?, cpus: Int) -> JSON {
        .object(JSONObject([("load1", JSON.from(l?.0)), ("load5", JSON.from(l?.1)), ("load15", JSON.from(l?.2)),
                            ("cpus", .int(Int64(cpus)))]))
    }
}

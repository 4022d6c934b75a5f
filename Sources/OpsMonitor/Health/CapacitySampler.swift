import Foundation
import OpsJSON
import OpsLog
import OpsMonitorCore
import OpsPostgres
#if canImport(Glibc)
import Glibc
#endif

/// Host capacity every 30 s into ops.capacity_samples (CONTRACT.md): disk of / and of each
/// configured data directory (statvfs) with the bytes under the directory (a bounded walk),
/// memory from /proc/meminfo, load from /proc/loadavg, and the monitor's own RSS.
final class CapacitySampler: MonitorComponent {
    let name = "capacity"
    static let intervalSeconds = 30.0

    private let directories: [DataDirectory]

    init(context: MonitorContext) { directories = context.monitorConfig.dataDirectories }

    func run(_ context: MonitorContext) {
        let db = context.makeDatabase("capacity")
        var failing = false
        while !context.isStopping {
            guard context.isActive else { context.sleep(1); continue }
            let started = ProbeClock.now()
            let sample = Self.sample(directories)
            do {
                try db.run { c in
                    try c.query("""
                        INSERT INTO ops.capacity_samples (ts, disk, memory, load) VALUES (now(), $1::jsonb, $2::jsonb, $3::jsonb)
                        ON CONFLICT (ts) DO NOTHING
                        """, [sample.disk.serialized(), sample.memory.serialized(), sample.load.serialized()])
                }
                if failing { context.logger.info("capacity samples written again") }
                failing = false
            } catch {
                if !failing { context.logger.warn("capacity sample not written", [("error", .string("\(error)"))]) }
                failing = true
            }
            context.sleep(max(1, Self.intervalSeconds - (ProbeClock.now() - started)))
        }
        db.close()
    }

    static func sample(_ directories: [DataDirectory]) -> (disk: JSON, memory: JSON, load: JSON) {
        var disk = JSONObject()
        if let fs = fileSystem("/") { disk["root"] = .object(HostStats.diskJSON(path: "/", fs: fs)) } else { disk["root"] = .null }
        disk["directories"] = .array(directories.map { d in
            let fs = fileSystem(d.path)
            let size = DirectorySize.measure(d.path)
            return HostStats.directoryJSON(name: d.name, path: d.path, fs: fs, sizeBytes: size.bytes,
                                           error: fs == nil ? "cannot stat \(d.path)" : size.note)
        })
        let pageSize = Int64(sysconf(Int32(_SC_PAGESIZE)))
        let rss = read("/proc/self/statm").flatMap { HostStats.residentBytes(statm: $0, pageSize: pageSize) }
        let memory: JSON
        if let m = read("/proc/meminfo").flatMap(HostStats.memory(meminfo:)) {
            memory = HostStats.memoryJSON(total: m.total, available: m.available, monitorRSS: rss)
        } else {
            memory = .object(JSONObject([("total_bytes", .null), ("available_bytes", .null), ("used_bytes", .null),
                                         ("used_pct", .null), ("monitor_rss_bytes", JSON.from(rss))]))
        }
        let load = HostStats.loadJSON(read("/proc/loadavg").flatMap(HostStats.load(loadavg:)),
                                      cpus: ProcessInfo.processInfo.activeProcessorCount)
        return (.object(disk), memory, load)
    }

    static func fileSystem(_ path: String) -> HostStats.FileSystem? {
        var s = statvfs()
        guard statvfs(path, &s) == 0 else { return nil }
        let unit = Int64(s.f_frsize > 0 ? s.f_frsize : s.f_bsize)
        return HostStats.FileSystem(totalBytes: Int64(s.f_blocks) * unit, freeBytes: Int64(s.f_bfree) * unit,
                                    availableBytes: Int64(s.f_bavail) * unit)
    }

    static func read(_ path: String) -> String? { try? String(contentsOfFile: path, encoding: .utf8) }
}

/// Bytes under a directory (allocated blocks, as du counts them), walked without following
/// symbolic links or leaving the directory's filesystem. The walk is bounded: past
/// `maxEntries` entries or `maxSeconds` it gives up (nil, with a note) rather than stall the
/// sampler on a huge tree.
enum DirectorySize {
    static let maxEntries = 200_000
    static let maxSeconds = 2.0

    static func measure(_ root: String) -> (bytes: Int64?, note: String?) {
        var st = stat()
        guard lstat(root, &st) == 0 else { return (nil, "cannot stat \(root): \(String(cString: strerror(errno)))") }
        let device = st.st_dev
        let deadline = ProbeClock.now() + maxSeconds
        var total = Int64(st.st_blocks) * 512
        var entries = 0
        var stack = [root]
        while let dir = stack.popLast() {
            guard let d = opendir(dir) else { continue }   // unreadable subdirectory: counted as empty
            defer { closedir(d) }
            while let e = readdir(d) {
                let name = withUnsafeBytes(of: e.pointee.d_name) { raw in
                    String(cString: raw.bindMemory(to: CChar.self).baseAddress!)
                }
                if name == "." || name == ".." { continue }
                entries += 1
                if entries > maxEntries { return (nil, "more than \(maxEntries) entries: size not measured") }
                if entries % 1000 == 0, ProbeClock.now() > deadline { return (nil, "walk took over \(Int(maxSeconds)) s: size not measured") }
                let path = dir + "/" + name
                var s = stat()
                guard lstat(path, &s) == 0 else { continue }   // removed meanwhile
                total += Int64(s.st_blocks) * 512
                if (s.st_mode & S_IFMT) == S_IFDIR && s.st_dev == device { stack.append(path) }
            }
        }
        return (total, nil)
    }
}

import OpsCrypto
#if canImport(Glibc)
import Glibc
#endif

/// What this process runs: the version, the git commit it was built from (OPS_GIT_SHA, set
/// by deploy/stack.sh and the install script), the SHA-256 of its own binary, and when it
/// started.
enum BuildInfo {
    static let version = "0.1.0"

    static var gitSHA: String {
        guard let v = getenv("OPS_GIT_SHA").map({ String(cString: $0) }), !v.isEmpty else { return "unknown" }
        return v
    }

    /// Hashed once per process, on first use (about 0.1 s for a 25 MB binary).
    static let binarySHA256: String? = Crypto.sha256Hex(file: "/proc/self/exe")

    /// The process start time in seconds since the epoch, from /proc (boot time + start ticks).
    static let startedAtSeconds: Int64? = {
        guard let stat = AppContext.readSmallFile("/proc/self/stat"), let close = stat.lastIndex(of: ")") else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        // After "pid (comm)": field 3 is index 0, so starttime (field 22) is index 19.
        guard fields.count > 19, let ticks = Int64(fields[19]),
              let procStat = AppContext.readSmallFile("/proc/stat"),
              let btimeLine = procStat.split(separator: "\n").first(where: { $0.hasPrefix("btime ") }),
              let boot = Int64(btimeLine.dropFirst(6)) else { return nil }
        let hz = Int64(sysconf(Int32(_SC_CLK_TCK)))
        return boot + ticks / max(hz, 1)
    }()
}

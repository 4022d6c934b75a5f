import OpsActivity
import OpsJSON
import OpsLog
#if canImport(Glibc)
import Glibc
#endif

/// Log lines of a systemd unit, read through `journalctl -o json` (the journal's files are a
/// binary format only journalctl reads safely). The child gets a minimal environment (no
/// secret of ours), its output is read with a deadline, and it is killed when it overruns.
public enum JournaldReader {
    public static let timeoutMillis = 10_000
    public static let candidates = ["/usr/bin/journalctl", "/bin/journalctl"]

    public struct Output {
        public var lines: [(entry: LogEntry, plain: String)]
        public var warning: String?
    }

    /// journalctl's priority ceiling for our minimum level (syslog: 0 emerg … 7 debug).
    static func priorityCeiling(_ level: LogLevelName) -> Int {
        switch level {
        case .error: return 3
        case .warn: return 4
        case .info: return 6
        case .debug: return 7
        }
    }

    public static func arguments(unit: String, directory: String?, tail: Int, since: UTCTime?,
                                 minimumLevel: LogLevelName?) -> [String] {
        var args = ["--no-pager", "--quiet", "-o", "json", "-n", String(tail), "-u", unit]
        if let directory { args += ["--directory", directory] }
        if let since { args += ["--since", "@\(since.seconds)"] }
        if let minimumLevel { args += ["-p", "0..\(priorityCeiling(minimumLevel))"] }
        return args
    }

    /// One `journalctl -o json` line as an entry plus a plain-text line
    /// (`2026-11-22T03:45:02.123456Z nginx[42]: message`).
    public static func parse(_ line: String, unit: String) -> (entry: LogEntry, plain: String)? {
        guard let o = (try? JSON.parse(line))?.objectValue else { return nil }
        let ts = o["__REALTIME_TIMESTAMP"]?.stringValue.flatMap(Int64.init).map(UTCTime.init(micros:))
        let priority = o["PRIORITY"]?.stringValue.flatMap(Int.init) ?? 6
        let level: LogLevelName = priority <= 3 ? .error : priority == 4 ? .warn : priority == 7 ? .debug : .info
        var message = o["MESSAGE"]?.stringValue ?? ""
        // Non-UTF-8 messages come as arrays of byte values.
        if let bytes = o["MESSAGE"]?.arrayValue { message = String(decoding: bytes.compactMap { $0.intValue.map { UInt8(truncatingIfNeeded: $0) } }, as: UTF8.self) }
        let ident = o["SYSLOG_IDENTIFIER"]?.stringValue ?? unit
        let pid = o["_PID"]?.stringValue.map { "[\($0)]" } ?? ""
        let plain = "\(ts?.iso8601Micros ?? "-") \(ident)\(pid): \(message)"
        return (LogEntry(ts: ts, level: level, message: message), plain)
    }

    public static func read(unit: String, directory: String?, tail: Int, since: UTCTime?,
                            minimumLevel: LogLevelName?) -> Output {
        guard let binary = candidates.first(where: { access($0, X_OK) == 0 }) else {
            return Output(lines: [], warning: "journalctl is not installed: cannot read unit \(unit)")
        }
        let args = arguments(unit: unit, directory: directory, tail: tail, since: since, minimumLevel: minimumLevel)
        guard let run = spawn(binary, args) else {
            return Output(lines: [], warning: "could not start journalctl for \(unit)")
        }
        var lines: [(LogEntry, String)] = []
        for raw in run.stdout.split(separator: 10) {
            if let parsed = parse(String(decoding: raw, as: UTF8.self), unit: unit) { lines.append(parsed) }
        }
        var warning: String? = nil
        if run.timedOut { warning = "journalctl took longer than \(timeoutMillis / 1000) s and was stopped" }
        else if run.status != 0 && lines.isEmpty { warning = "journalctl exited with \(run.status) for \(unit)" }
        return Output(lines: lines.map { (entry: $0.0, plain: $0.1) }, warning: warning)
    }

    struct Run { var stdout: [UInt8]; var status: Int32; var timedOut: Bool }

    /// posix_spawn with stdout on a pipe, stdin/stderr on /dev/null, a minimal environment.
    static func spawn(_ path: String, _ args: [String]) -> Run? {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { return nil }
        // Close-on-exec: no other child spawned meanwhile by another thread inherits them.
        _ = fcntl(fds[0], F_SETFD, FD_CLOEXEC)
        _ = fcntl(fds[1], F_SETFD, FD_CLOEXEC)
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, fds[1], 1)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        let argStrings: [String] = [path] + args
        let envStrings: [String] = ["PATH=/usr/bin:/bin", "LC_ALL=C.UTF-8", "SYSTEMD_COLORS=0", "SYSTEMD_PAGER="]
        let argv: [UnsafeMutablePointer<CChar>?] = argStrings.map { strdup($0) } + [nil]
        let envp: [UnsafeMutablePointer<CChar>?] = envStrings.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) }; envp.forEach { free($0) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, path, &actions, nil, argv, envp)
        close(fds[1])
        guard rc == 0 else { close(fds[0]); return nil }
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        var timedOut = false
        let deadline = Timestamp.monotonicMillis() + Double(timeoutMillis)
        while true {
            let left = deadline - Timestamp.monotonicMillis()
            if left <= 0 { timedOut = true; break }
            var p = pollfd(fd: fds[0], events: Int16(POLLIN), revents: 0)
            let ready = poll(&p, 1, Int32(min(left, 1000).rounded(.up)))
            if ready < 0 { if errno == EINTR { continue }; break }
            if ready == 0 { continue }
            let n = Glibc.read(fds[0], &buffer, buffer.count)
            if n < 0 { if errno == EINTR { continue }; break }
            if n == 0 { break }
            out += buffer[0..<n]
            if out.count > 64 << 20 { timedOut = true; break }   // runaway output
        }
        close(fds[0])
        if timedOut { kill(pid, SIGKILL) }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let exit = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        return Run(stdout: out, status: exit, timedOut: timedOut)
    }
}

import OpsActivity
#if canImport(Glibc)
import Glibc
#endif

/// The last lines of one allowlisted service: each of its files read from the end (and its
/// rotated predecessor `FILE.1` when the current file holds too few), filtered by level and
/// time, merged by time across files, newest last.
public struct LogTail {
    /// Most lines one request may ask for (`tail`).
    public static let maxLines = 5000
    /// Most bytes read from one file per request, so a filter that matches nothing cannot make
    /// a request read a whole 1 GiB file.
    public static let maxScanBytes = 64 << 20

    public struct Line {
        public var entry: LogEntry
        public var raw: String
        public var file: String
    }

    public struct Result {
        public var lines: [Line]
        public var files: [String]
        public var warnings: [String]
    }

    public static func read(_ service: LogSources.Service, tail: Int, since: UTCTime?, minimumLevel: LogLevelName?,
                            now: UTCTime = .now()) -> Result {
        if let unit = service.journaldUnit {
            let out = JournaldReader.read(unit: unit, directory: service.journalDirectory, tail: tail, since: since,
                                          minimumLevel: minimumLevel)
            return Result(lines: out.lines.map { Line(entry: $0.entry, raw: $0.plain, file: "journald:\(unit)") },
                          files: ["journald:\(unit)"], warnings: out.warning.map { [$0] } ?? [])
        }
        var warnings: [String] = []
        var files: [String] = []
        var perFile: [[Line]] = []
        for pattern in service.files {
            let resolved = resolve(pattern)
            if resolved.isEmpty { warnings.append("no file matches \(pattern)") }
            for path in resolved {
                files.append(path)
                var lines: [Line] = []
                // The current file first; its rotated predecessor only when it ran out.
                for candidate in [path, path + ".1"] where lines.count < tail {
                    let want = tail - lines.count
                    var parsed: [Line] = []
                    let chunk = TailReader.lastLines(path: candidate, count: want, maxBytes: maxScanBytes) { raw in
                        let entry = LogLineParser.parse(raw, format: service.format, now: now)
                        if let since, let ts = entry.ts, ts < since { return .stop }
                        if let minimumLevel, entry.level < minimumLevel { return .skip }
                        parsed.append(Line(entry: entry, raw: raw, file: candidate))
                        return .keep
                    }
                    guard let chunk else {
                        if candidate == path { warnings.append("cannot read \(path)") }
                        break
                    }
                    lines = parsed.reversed() + lines
                    if candidate != path, !parsed.isEmpty, !files.contains(candidate) { files.append(candidate) }
                    if !chunk.reachedStart {
                        if chunk.bytesRead >= maxScanBytes {
                            warnings.append("stopped after reading \(maxScanBytes >> 20) MiB of \(candidate)")
                        }
                        break
                    }
                }
                perFile.append(lines)
            }
        }
        let merged = perFile.count == 1 ? perFile[0] : merge(perFile)
        return Result(lines: Array(merged.suffix(tail)), files: files, warnings: warnings)
    }

    /// Merges per-file sequences (each oldest first) by time. A line without a time sorts with
    /// the line before it in its own file (a continuation line stays with its entry).
    static func merge(_ lists: [[Line]]) -> [Line] {
        var keyed: [(key: Int64, file: Int, index: Int, line: Line)] = []
        for (f, list) in lists.enumerated() {
            var last = Int64.min
            for (i, line) in list.enumerated() {
                if let ts = line.entry.ts { last = ts.micros }
                keyed.append((last, f, i, line))
            }
        }
        keyed.sort { ($0.key, $0.file, $0.index) < ($1.key, $1.file, $1.index) }
        return keyed.map(\.line)
    }

    /// A path, or the files matching a `*` pattern in its last component, sorted by name.
    static func resolve(_ pattern: String) -> [String] {
        guard let slash = pattern.lastIndex(of: "/") else { return [] }
        let directory = String(pattern[..<slash]).isEmpty ? "/" : String(pattern[..<slash])
        let namePattern = String(pattern[pattern.index(after: slash)...])
        guard namePattern.contains("*") else { return [pattern] }
        guard let dir = opendir(directory) else { return [] }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            // fnmatch: `*` never crosses a `/` (a name has none) and a leading dot must match.
            if fnmatch(namePattern, name, FNM_PERIOD) == 0, !name.hasSuffix(".1") {
                names.append(directory == "/" ? "/" + name : directory + "/" + name)
            }
        }
        return names.sorted()
    }
}

import Foundation
import OpsActivity
@testable import OpsLogTail
import Testing

@Suite struct LogLineParserTests {
    let now = try! UTCTime.parse("2026-11-22T04:00:00Z")
    func parse(_ line: String, _ format: LogFormat = .auto) -> LogEntry { LogLineParser.parse(line, format: format, now: now) }

    @Test func ourJSONLines() {
        let e = parse(#"{"ts":"2026-11-22T03:56:37.354Z","level":"warn","msg":"request","status":204}"#)
        #expect(e.ts?.iso8601 == "2026-11-22T03:56:37.354Z" && e.level == .warn && e.message == "request")
    }

    @Test func nginxJSONAccessLines() {
        let e = parse(#"{"ts":"2026-11-22T03:56:37+00:00","msec":1795319797.355,"method":"GET","uri":"/api/x","status":502,"request_time":0.002}"#)
        #expect(e.ts?.iso8601 == "2026-11-22T03:56:37.355Z" && e.level == .error && e.message == "GET /api/x 502 0.002s")
    }

    @Test func nginxCombinedAccessLines() {
        let e = parse(#"127.0.0.1 - - [22/Nov/2026:04:45:02 +0100] "GET /x HTTP/1.1" 404 12 "-" "curl/8""#)
        #expect(e.ts?.iso8601 == "2026-11-22T03:45:02Z" && e.level == .warn)
    }

    @Test func nginxErrorLines() {
        let e = parse(#"2026/11/22 03:52:07 [error] 12076#12076: *2640 open() "/x" failed"#)
        #expect(e.ts?.iso8601 == "2026-11-22T03:52:07Z" && e.level == .error && e.message.hasPrefix("12076#12076"))
        #expect(parse("2026/11/22 03:52:07 [notice] 1#1: start").level == .info)
    }

    @Test func postgresLines() {
        let e = parse("2026-11-22 03:55:05.644 UTC [11933] LOG:  checkpoint starting: time")
        #expect(e.ts?.iso8601 == "2026-11-22T03:55:05.644Z" && e.level == .info && e.message == "LOG:  checkpoint starting: time")
        #expect(parse("2026-11-22 03:55:05.644 UTC [1] ERROR:  relation \"x\" does not exist").level == .error)
        #expect(parse("2026-11-22 04:55:05 +01 [1] WARNING:  w").ts?.iso8601 == "2026-11-22T03:55:05Z")
        // Our clusters' prefix adds user@database to session lines.
        let session = parse("2026-11-22 03:55:05.644 UTC [77] opsplane@opsplane ERROR:  duplicate key value")
        #expect(session.level == .error && session.message == "ERROR:  duplicate key value")
    }

    @Test func redisLines() {
        let e = parse("12104:M 22 Nov 2026 03:50:06.151 # WARNING Memory overcommit must be enabled!")
        #expect(e.ts?.iso8601 == "2026-11-22T03:50:06.151Z" && e.level == .warn)
    }

    @Test func syslogLines() {
        let e = parse("Nov 22 03:45:02 host sshd[12]: error: maximum authentication attempts exceeded", .syslog)
        #expect(e.ts?.iso8601 == "2026-11-22T03:45:02Z" && e.level == .error)
        // December's lines read in January belong to the year before.
        let jan = try! UTCTime.parse("2027-01-02T00:00:00Z")
        #expect(LogLineParser.parse("Dec 31 23:59:59 h app: x", format: .syslog, now: jan).ts?.iso8601 == "2026-12-31T23:59:59Z")
        #expect(parse("<34>1 2026-11-22T03:45:02.003Z host app 1 - - started").ts?.iso8601 == "2026-11-22T03:45:02.003Z")
        #expect(parse("2026-11-22T04:45:02.123456+01:00 host app[1]: warning: disk").level == .warn)
    }

    @Test func unknownLinesKeepTheirTextWithoutATime() {
        let e = parse("    at Object.<anonymous> (/app/x.js:1:1)")
        #expect(e.ts == nil && e.level == .info && e.message == "    at Object.<anonymous> (/app/x.js:1:1)")
    }
}

@Suite struct TailReaderTests {
    func tempFile(_ content: String) -> String {
        let path = NSTemporaryDirectory() + "opsplane-tail-\(UUID().uuidString).log"
        FileManager.default.createFile(atPath: path, contents: Data(content.utf8))
        return path
    }

    @Test func lastLinesAcrossBlocks() throws {
        // Lines of varying length spanning many 64 KiB blocks.
        let lines = (0..<20_000).map { "line \($0) " + String(repeating: "x", count: $0 % 50) }
        let path = tempFile(lines.joined(separator: "\n") + "\n")
        defer { unlink(path) }
        let chunk = try #require(TailReader.lastLines(path: path, count: 200, maxBytes: 1 << 30))
        #expect(chunk.lines == Array(lines.suffix(200)))
        #expect(!chunk.reachedStart && chunk.bytesRead <= 2 * TailReader.blockSize)
        let all = try #require(TailReader.lastLines(path: path, count: 50_000, maxBytes: 1 << 30))
        #expect(all.lines == lines && all.reachedStart)
    }

    @Test func noTrailingNewlineCRLFAndEmptyFile() throws {
        let path = tempFile("a\r\nb\r\nc")
        defer { unlink(path) }
        #expect(TailReader.lastLines(path: path, count: 2, maxBytes: 1 << 20)?.lines == ["b", "c"])
        let empty = tempFile("")
        defer { unlink(empty) }
        #expect(TailReader.lastLines(path: empty, count: 5, maxBytes: 1 << 20)?.lines == [])
        #expect(TailReader.lastLines(path: "/nonexistent/x.log", count: 5, maxBytes: 1 << 20) == nil)
        #expect(TailReader.lastLines(path: "/tmp", count: 5, maxBytes: 1 << 20) == nil, "a directory is not a log file")
    }

    @Test func aGiantLineIsCut() throws {
        let path = tempFile("short\n" + String(repeating: "y", count: 200_000) + "\nlast\n")
        defer { unlink(path) }
        let lines = try #require(TailReader.lastLines(path: path, count: 3, maxBytes: 1 << 30)).lines
        #expect(lines.count == 3 && lines[0] == "short" && lines[2] == "last")
        #expect(lines[1].hasPrefix("yyyy") && lines[1].hasSuffix("(line cut at \(TailReader.maxLineBytes) bytes)"))
    }

    @Test func sinceStopsTheWalkAndRotationFillsUp() throws {
        let dir = NSTemporaryDirectory() + "opsplane-rot-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        func line(_ minute: Int, _ level: String) -> String { #"{"ts":"2026-11-22T03:\#(String(format: "%02d", minute)):00Z","level":"\#(level)","msg":"m\#(minute)"}"# }
        FileManager.default.createFile(atPath: dir + "/app.log.1", contents: Data((0..<10).map { line($0, $0 % 2 == 0 ? "info" : "error") }.joined(separator: "\n").utf8 + [10]))
        FileManager.default.createFile(atPath: dir + "/app.log", contents: Data((10..<13).map { line($0, "info") }.joined(separator: "\n").utf8 + [10]))
        let service = LogSources.Service(name: "app", files: [dir + "/app.log"], format: .json)
        let now = try UTCTime.parse("2026-11-22T04:00:00Z")
        let r = LogTail.read(service, tail: 6, since: nil, minimumLevel: nil, now: now)
        #expect(r.lines.map(\.entry.message) == ["m7", "m8", "m9", "m10", "m11", "m12"], "the rotated file fills up the tail")
        let errors = LogTail.read(service, tail: 3, since: nil, minimumLevel: .error, now: now)
        #expect(errors.lines.map(\.entry.message) == ["m5", "m7", "m9"])
        let recent = LogTail.read(service, tail: 100, since: try UTCTime.parse("2026-11-22T03:08:00Z"), minimumLevel: nil, now: now)
        #expect(recent.lines.map(\.entry.message) == ["m8", "m9", "m10", "m11", "m12"])
    }

    @Test func globsAndMergeByTime() throws {
        let dir = NSTemporaryDirectory() + "opsplane-glob-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        FileManager.default.createFile(atPath: dir + "/w-1.log", contents: Data("{\"ts\":\"2026-11-22T03:00:01Z\",\"msg\":\"a\"}\n{\"ts\":\"2026-11-22T03:00:03Z\",\"msg\":\"c\"}\n".utf8))
        FileManager.default.createFile(atPath: dir + "/w-2.log", contents: Data("{\"ts\":\"2026-11-22T03:00:02Z\",\"msg\":\"b\"}\n".utf8))
        FileManager.default.createFile(atPath: dir + "/other.txt", contents: Data("nope\n".utf8))
        let r = LogTail.read(LogSources.Service(name: "w", files: [dir + "/w-*.log"], format: .json), tail: 10, since: nil, minimumLevel: nil)
        #expect(r.lines.map(\.entry.message) == ["a", "b", "c"])
        #expect(r.files == [dir + "/w-1.log", dir + "/w-2.log"])
    }

    @Test func sourcesRefuseRelativeAndDotDotPaths() {
        #expect(throws: (any Error).self) { try LogSources.parse(#"{"services":[{"name":"x","files":["logs/a.log"]}]}"#) }
        #expect(throws: (any Error).self) { try LogSources.parse(#"{"services":[{"name":"x","files":["/var/log/../../etc/passwd"]}]}"#) }
        #expect(throws: (any Error).self) { try LogSources.parse(#"{"services":[{"name":"a/b","files":["/x.log"]}]}"#) }
        #expect((try? LogSources.parse(#"{"services":[{"name":"x","files":["/x.log"],"format":"postgres"}]}"#))?.services.first?.format == .postgres)
    }
}

@Suite struct JournaldTests {
    @Test func parsesJournalctlJSON() throws {
        let line = #"{"MESSAGE":"upstream timed out","PRIORITY":"3","_PID":"42","SYSLOG_IDENTIFIER":"nginx","__REALTIME_TIMESTAMP":"1795320000123456"}"#
        let (entry, plain) = try #require(JournaldReader.parse(line, unit: "nginx.service"))
        #expect(entry.ts?.iso8601Micros == "2026-11-22T04:00:00.123456Z" && entry.level == .error && entry.message == "upstream timed out")
        #expect(plain == "2026-11-22T04:00:00.123456Z nginx[42]: upstream timed out")
        let bytes = #"{"MESSAGE":[104,105],"PRIORITY":"4","__REALTIME_TIMESTAMP":"1"}"#
        #expect(JournaldReader.parse(bytes, unit: "u")?.entry.message == "hi")
        #expect(JournaldReader.parse(bytes, unit: "u")?.entry.level == .warn)
        #expect(JournaldReader.parse("not json", unit: "u") == nil)
    }

    @Test func argumentsNeverComeFromFreeText() {
        let since = UTCTime(seconds: 1_795_320_000)
        #expect(JournaldReader.arguments(unit: "nginx.service", directory: "/j", tail: 5, since: since, minimumLevel: .warn)
                == ["--no-pager", "--quiet", "-o", "json", "-n", "5", "-u", "nginx.service", "--directory", "/j",
                    "--since", "@1795320000", "-p", "0..4"])
        #expect(throws: (any Error).self) { try LogSources.parse(#"{"services":[{"name":"x","journald_unit":"--output=/etc/x"}]}"#) }
        #expect(throws: (any Error).self) { try LogSources.parse(#"{"services":[{"name":"x","journald_unit":"a b"}]}"#) }
    }

    /// A real journal: written by systemd-journal-remote from the export format, read back by
    /// journalctl through the reader.
    @Test func readsARealJournal() throws {
        let remote = "/lib/systemd/systemd-journal-remote"
        try #require(access(remote, X_OK) == 0, "systemd-journal-remote is not installed (deploy/install-deps.sh installs it)")
        let dir = NSTemporaryDirectory() + "opsplane-journal-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var export = ""
        for i in 0..<30 {
            export += "__REALTIME_TIMESTAMP=\(1_795_320_000_000_000 + i * 1_000_000)\n__MONOTONIC_TIMESTAMP=\(i + 1)\n"
            export += "_BOOT_ID=0123456789abcdef0123456789abcdef\nMESSAGE=line \(i)\nPRIORITY=\(i % 10 == 0 ? 3 : 6)\n"
            export += "_SYSTEMD_UNIT=\(i % 2 == 0 ? "opsplane-test.service" : "other.service")\n_PID=42\nSYSLOG_IDENTIFIER=opsplane\n\n"
        }
        FileManager.default.createFile(atPath: dir + "/in.export", contents: Data(export.utf8))
        let p = Process()
        p.executableURL = URL(fileURLWithPath: remote)
        p.arguments = ["--output=\(dir)/j/remote.journal", dir + "/in.export"]
        try FileManager.default.createDirectory(atPath: dir + "/j", withIntermediateDirectories: true)
        p.standardError = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        let service = LogSources.Service(name: "t", files: [], format: .plain, journaldUnit: "opsplane-test.service", journalDirectory: dir + "/j")
        let r = LogTail.read(service, tail: 3, since: nil, minimumLevel: nil)
        #expect(r.warnings == [])
        #expect(r.lines.map(\.entry.message) == ["line 24", "line 26", "line 28"])
        #expect(r.lines.last?.raw == "2026-11-22T04:00:28Z opsplane[42]: line 28")
        let errors = LogTail.read(service, tail: 10, since: nil, minimumLevel: .error)
        #expect(errors.lines.map(\.entry.message) == ["line 0", "line 10", "line 20"])
        let recent = LogTail.read(service, tail: 10, since: UTCTime(seconds: 1_795_320_025), minimumLevel: nil)
        #expect(recent.lines.map(\.entry.message) == ["line 26", "line 28"])
    }
}

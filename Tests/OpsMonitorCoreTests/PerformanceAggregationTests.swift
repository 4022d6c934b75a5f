import OpsMonitorCore
import Testing

/// A copy of the API's route table as these tests' fixture (the monitor itself gets the real
/// table from `Routes.table()`; test_monitor_perf.py checks that every route is grouped).
let routeTable: [String] = [
        "/api/ops/healthz",
        "/api/ops/ping",
        "/api/ops/login",
        "/api/ops/logout",
        "/api/ops/whoami",
        "/api/ops/ingest",
        "/api/ops/budget/check",
        "/api/ops/summary",
        "/api/ops/timeseries",
        "/api/ops/top",
        "/api/v1/ops/overview",
        "/api/v1/ops/queue",
        "/api/monitoring/health",
        "/api/monitoring/health/module/{name}",
        "/api/monitoring/performance",
        "/api/monitoring/database",
        "/api/monitoring/db/pool",
        "/api/monitoring/cache/stats",
        "/api/monitoring/workers/status",
        "/api/monitoring/events",
        "/api/monitoring/events/history",
        "/operator/system/health",
        "/operator/system/metrics",
        "/operator/system/capacity",
        "/operator/system/aggregates",
        "/operator/system/errors",
        "/api/ops/alerts",
        "/api/ops/alerts/{id}",
        "/api/ops/alerts/{id}/ack",
        "/api/ops/silences",
        "/api/ops/frontend-log",
        "/api/ops/frontend-logs",
        "/api/ops/logs",
        "/api/ops/context",
        "/api/ops/support-bundle",
        "/api/ws",
        "/api/ops/tokens",
        "/api/ops/tokens/{id}/revoke",
    ]

@Suite struct RouteGrouperTests {
    let grouper = RouteGrouper(templates: routeTable)

    @Test func everyTemplateGroupsItsOwnRequests() {
        for t in routeTable {
            let uri = t.replacing("{id}", with: "42").replacing("{name}", with: "postgres")
            #expect(grouper.group(uri: uri) == t)
            #expect(grouper.group(uri: uri + "/") == t, "trailing slash routes alike")
            #expect(grouper.group(uri: uri + "?range=7d&x=%ZZ") == t, "the query string is ignored")
        }
    }

    @Test func segmentsCompareLikeTheRouter() {
        #expect(grouper.group(uri: "//api//ops/summary") == "/api/ops/summary")
        #expect(grouper.group(uri: "/api/ops/%73ummary") == "/api/ops/summary")
        #expect(grouper.group(uri: "/api/ops/alerts/%2F/ack") == "/api/ops/alerts/{id}/ack")
        #expect(grouper.group(uri: "/api/ops/%zzummary") == "other")
        #expect(grouper.group(uri: "/api/ops/alerts/../ack") == "other")
        #expect(grouper.group(uri: "/api/ops/alerts/%2e%2e/ack") == "other")
        #expect(grouper.group(uri: "/API/ops/summary") == "other")
        #expect(grouper.group(uri: "/api/ops/alerts/1/ack/more") == "other")
    }

    @Test func frontendFilesAreStaticAndTheRestOther() {
        for uri in ["/", "/admin/ops", "/admin/ops/", "/admin/ops/app.js?v=3", "/admin/ops/login"] {
            #expect(grouper.group(uri: uri) == "static", "\(uri)")
        }
        for uri in ["/admin/opsx", "/wp-login.php", "*", "-", "", "http://example.com/", "/nginx-static", "/api/nope"] {
            #expect(grouper.group(uri: uri) == "other", "\(uri)")
        }
    }

    @Test func configuredRoutesAndPrefixesComeAfterTheTable() throws {
        let config = try MonitorConfig.parse(#"""
            {"access_log":{"path":"/tmp/a.log","routes":["/api/v1/items/{id}","/api/ops/summary"],
                           "static_prefixes":["/assets/"],"max_groups":50,"backlog_mb":0}}
            """#, routeTable: routeTable).accessLog!
        #expect(config.routes == ["/api/v1/items/{id}", "/api/ops/summary"])
        #expect(config.templates.count == routeTable.count + 1, "a duplicate of the table is not a new group")
        #expect(config.backlogMB == 0 && config.maxGroups == 50)
        let g = RouteGrouper(config)
        #expect(g.group(uri: "/api/v1/items/9") == "/api/v1/items/{id}")
        #expect(g.group(uri: "/assets/x.css") == "static")
        #expect(g.group(uri: "/admin/ops/") == "other", "the prefixes replace the default")
        #expect(g.groups.count == routeTable.count + 3)
    }

    @Test func configErrorsNameThePath() {
        func error(_ accessLog: String) -> String {
            do { _ = try MonitorConfig.parse(#"{"access_log":\#(accessLog)}"#, routeTable: routeTable); return "" } catch { return error.description }
        }
        #expect(error(#"{"path":"/a","routes":["api/x"]}"#).hasPrefix("access_log.routes[0]: a route template must start with /"))
        #expect(error(#"{"path":"/a","routes":["/a/{x"]}"#).hasPrefix("access_log.routes[0]: a parameter"))
        #expect(error(#"{"path":"/a","routes":["/a/b{x}"]}"#).hasPrefix("access_log.routes[0]: a parameter"))
        #expect(error(#"{"path":"/a","routes":["/a?b"]}"#).hasPrefix("access_log.routes[0]"))
        #expect(error(#"{"path":"/a","routes":"/a"}"#).hasPrefix("access_log.routes: expected an array"))
        #expect(error(#"{"path":"/a","static_prefixes":["x"]}"#).hasPrefix("access_log.static_prefixes[0]"))
        #expect(error(#"{"path":"/a","max_groups":20}"#).hasPrefix("access_log.routes:") , "the table alone needs more than 20 groups")
        #expect(error(#"{"path":"/a","max_groups":5}"#).hasPrefix("access_log.max_groups:"))
        #expect(error(#"{"path":"/a","backlog_mb":-1}"#).hasPrefix("access_log.backlog_mb:"))
        #expect(error(#"{"path":"/a","tail":true}"#).hasPrefix("access_log.tail: unknown key"))
        #expect(error(#"{"path":""}"#).hasPrefix("access_log.path: required"))
    }
}

@Suite struct MinuteAggregatorTests {
    func aggregator() -> MinuteAggregator { MinuteAggregator(grouper: RouteGrouper(templates: routeTable)) }

    @Test func countsPerMinuteAndGroup() throws {
        var a = aggregator()
        let m0 = 1_732_240_920.0 // a minute boundary
        a.add(line: nginxLine(msec: "\(m0 + 0.001)", uri: "/api/ops/summary", status: "200", requestTime: "0.010"))
        a.add(line: nginxLine(msec: "\(m0 + 59.999)", uri: "/api/ops/summary?x=1", status: "503", requestTime: "0.500"))
        a.add(line: nginxLine(msec: "\(m0 + 60)", uri: "/api/ops/summary", status: "401", requestTime: "0.001"))
        a.add(line: nginxLine(msec: "\(m0 + 61)", uri: "/api/ops/alerts/7/ack", status: "403", requestTime: "0.002") + "\r")
        a.add(line: nginxLine(msec: "\(m0 + 62)", uri: "/api/ops/alerts/8/ack", status: "404", requestTime: "0.003"))
        a.add(line: nginxLine(msec: "\(m0 + 63)", uri: "/admin/ops/app.js", status: "304", requestTime: "0"))
        let plain = a.add(line: "GET / HTTP/1.1 200")
        let torn = a.add(line: String(nginxLine().prefix(40)))
        #expect(!plain && !torn)
        #expect(a.lines == 6 && a.badLines == 2)
        #expect(a.firstBadLine == "GET / HTTP/1.1 200")

        let rows = a.rows
        #expect(rows.map(\.minute) == [1_732_240_920, 1_732_240_980, 1_732_240_980, 1_732_240_980])
        #expect(rows.map(\.group) == ["/api/ops/summary", "/api/ops/alerts/{id}/ack", "/api/ops/summary", "static"])
        let first = rows[0].counts
        #expect(first.requests == 2 && first.errors == 1 && first.clientErrors == 0 && first.authFailures == 0)
        #expect(abs(first.latencySumMillis - 510) < 1e-9)
        #expect(first.histogram.reduce(0, +) == 2 && first.histogram.count == LatencyHistogram.bucketCount)
        #expect(first.histogram[LatencyHistogram.bucket(forMillis: 500)] == 1)
        let acks = rows[1].counts
        #expect(acks.requests == 2 && acks.clientErrors == 2 && acks.authFailures == 1 && acks.errors == 0)
        #expect(rows[2].counts.authFailures == 1 && rows[2].counts.clientErrors == 1)

        a.reset()
        #expect(a.isEmpty && a.rows.isEmpty && a.firstBadLine == nil)
    }

    @Test func escapedURIsAreGroupedByWhatTheyStandFor() {
        var a = aggregator()
        a.add(line: nginxLine(uri: #"\/api\/ops\/summary?q=\"x\""#))
        #expect(a.rows.map(\.group) == ["/api/ops/summary"])
    }

    /// Hostile traffic (a scanner, random ids, garbage paths) cannot add groups: one minute
    /// holds at most one row per template plus static and other.
    @Test func hostileURIsCannotGrowTheTable() {
        var a = aggregator()
        var rng = SplitMix(seed: 7)
        for i in 0..<20_000 {
            let r = rng.next()
            let uri: String
            switch i % 4 {
            case 0: uri = "/api/ops/alerts/\(r)/ack"
            case 1: uri = "/\(r)/\(r % 977)/x.php?\(r)"
            case 2: uri = "/api/monitoring/health/module/\(r)"
            default: uri = "/" + String(repeating: "a/", count: Int(r % 40)) + "%\(r % 100)"
            }
            a.add(line: nginxLine(msec: "1732240920.5", uri: uri))
        }
        let rows = a.rows
        #expect(a.lines == 20_000)
        #expect(rows.count == 3, "\(rows.map(\.group))")
        #expect(Set(rows.map(\.group)) == ["/api/ops/alerts/{id}/ack", "/api/monitoring/health/module/{name}", "other"])
        #expect(rows.map(\.counts.requests).reduce(0, +) == 20_000)
    }
}

@Suite struct LineChunkerTests {
    func feed(_ chunker: inout LineChunker, _ text: String, full: Bool = false) -> (used: Int, lines: [String], oversized: Int) {
        var lines: [String] = []
        var oversized = 0
        let used = Array(text.utf8).withUnsafeBytes { chunk in
            chunker.consume(chunk, full: full, line: { lines.append(String(decoding: $0, as: UTF8.self)) }, oversized: { oversized += 1 })
        }
        return (used, lines, oversized)
    }

    @Test func consumesOnlyCompleteLines() {
        var c = LineChunker()
        let r = feed(&c, "a\nbb\n\nccc")
        #expect(r.used == 6 && r.lines == ["a", "bb", ""])
        #expect(feed(&c, "ccc").used == 0, "a line without its newline waits")
        #expect(feed(&c, "ccc\n").lines == ["ccc"])
    }

    @Test func skipsALineLongerThanTheBuffer() {
        var c = LineChunker()
        let first = feed(&c, "xxxxxxxx", full: true)
        #expect(first.used == 8 && first.oversized == 1 && c.skipping)
        let second = feed(&c, "xxxxxxxx", full: true)
        #expect(second.used == 8 && second.oversized == 0, "counted once")
        let third = feed(&c, "xx\nnext\n")
        #expect(third.lines == ["next"] && !c.skipping)
    }

    @Test func startsMidLineWhenAsked() {
        var c = LineChunker()
        c.skipToNextLine()
        #expect(feed(&c, "tail of a line\nwhole\n").lines == ["whole"])
    }

    @Test func fingerprintKeepsTheLastBytesBeforeTheCursor() {
        var f = TailFingerprint()
        Array(repeating: UInt8(ascii: "a"), count: 10).withUnsafeBytes { f.advance($0) }
        #expect(f.bytes.count == 10)
        Array(repeating: UInt8(ascii: "b"), count: 60).withUnsafeBytes { f.advance($0) }
        #expect(f.bytes.count == TailFingerprint.length && f.bytes.prefix(4) == [97, 97, 97, 97] && f.bytes.last == 98)
        Array(0..<200).map { UInt8($0) }.withUnsafeBytes { f.advance($0) }
        #expect(f.bytes == Array(136..<200).map { UInt8($0) })
        f.reset()
        #expect(f.isEmpty)
    }

    @Test func firstStartReadsTheBacklogOnly() {
        #expect(TailStart.firstOffset(size: 100, backlogBytes: 1_000) == 0)
        #expect(TailStart.firstOffset(size: 10_000, backlogBytes: 1_000) == 9_000)
        #expect(TailStart.firstOffset(size: 10_000, backlogBytes: 0) == 10_000)
    }
}

@Suite struct HistogramTextTests {
    @Test func roundTripsAndRefusesOtherArrays() {
        let h: [Int64] = [0, 3, 12, 9_000_000_000]
        #expect(HistogramText.format(h) == "{0,3,12,9000000000}")
        #expect(HistogramText.parse(HistogramText.format(h)) == h)
        #expect(HistogramText.parse("{}") == [])
        for bad in ["", "{", "{1,}", "{,1}", "{1,NULL}", "{{1},{2}}", "{1}x", "1,2", "{1 ,2}"] {
            #expect(HistogramText.parse(bad) == nil, "\(bad)")
        }
    }

    /// Minutes add up into hours: percentiles read from the sum of histograms equal those
    /// read from one histogram of all the values.
    @Test func histogramsAddUp() {
        var rng = SplitMix(seed: 3)
        var parts = [[Int64]](repeating: [Int64](repeating: 0, count: LatencyHistogram.bucketCount), count: 5)
        var all = [Int64](repeating: 0, count: LatencyHistogram.bucketCount)
        for i in 0..<5_000 {
            let ms = 0.2 + 2_000 * rng.double() * rng.double() * rng.double()
            parts[i % 5][LatencyHistogram.bucket(forMillis: ms)] += 1
            all[LatencyHistogram.bucket(forMillis: ms)] += 1
        }
        let sum = parts.reduce([Int64](repeating: 0, count: LatencyHistogram.bucketCount), LatencyHistogram.add)
        #expect(sum == all)
        var counts = MinuteCounts()
        for p in parts {
            var c = MinuteCounts()
            c.histogram = p
            counts.add(c)
        }
        #expect(counts.histogram == all)
        #expect(LatencyHistogram.percentile(sum, 95) == LatencyHistogram.percentile(all, 95))
    }

    /// Stored histograms leave out trailing empty buckets; percentiles and sums do not change.
    @Test func trimmedHistogramsReadTheSame() {
        #expect(LatencyHistogram.trimmed([0, 3, 0, 0]) == [0, 3])
        #expect(LatencyHistogram.trimmed([0, 0]) == [0])
        var full = [Int64](repeating: 0, count: LatencyHistogram.bucketCount)
        full[5] = 4
        full[20] = 1
        let short = LatencyHistogram.trimmed(full)
        #expect(short.count == 21)
        for p in [50.0, 95, 99] { #expect(LatencyHistogram.percentile(short, p) == LatencyHistogram.percentile(full, p)) }
        #expect(LatencyHistogram.add(short, full) == full.map { $0 * 2 })
        var c = MinuteCounts()
        c.histogram = short
        var d = MinuteCounts()
        d.histogram = full
        c.add(d)
        #expect(c.histogram == full.map { $0 * 2 })
    }
}

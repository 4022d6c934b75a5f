import OpsJSON
import OpsMonitorCore
import Testing

@Suite struct PerformanceReportTests {
    /// 2024-11-22T02:02:30Z
    let now = 1_732_240_950.0

    func counts(_ requests: Int, errors: Int = 0, clientErrors: Int = 0, ms: Double = 10) -> MinuteCounts {
        var c = MinuteCounts()
        for i in 0..<requests {
            let status = i < errors ? 500 : (i < errors + clientErrors ? 404 : 200)
            c.count(status: status, latencyMillis: ms)
        }
        return c
    }

    @Test func noDataAnswersZerosNullsAndAWarning() {
        let j = PerformanceReport.build(PerformanceInputs(range: .hour, now: now, rows: [], lastFlushAt: nil,
                                                          latestMinute: nil, probe: nil))
        #expect(j["range"] == "1h" && j["step_s"] == 60)
        #expect(j["api_response_time"] == ["p50": nil, "p95": nil, "p99": nil])
        #expect(j["request_rate"] == 0.0 && j["error_rate"] == 0.0 && j["requests"] == 0 && j["errors"] == 0)
        #expect(j["uptime_seconds"] == .null && j["as_of"] == .null && j["freshness_s"] == .null)
        #expect(j["series"]?.arrayValue?.count == 60)
        #expect(j["series"]?[0] == ["ts": "2024-11-22T01:03:00Z", "requests": 0, "errors": 0, "p95": nil])
        #expect(j["series"]?[59]?["ts"] == "2024-11-22T02:02:00Z")
        #expect(j["routes"] == [])
        let warnings = j["warnings"]?.arrayValue?.compactMap(\.stringValue) ?? []
        #expect(warnings.contains { $0.hasPrefix("no access-log data yet") })
        #expect(warnings.contains { $0.hasPrefix("uptime_seconds is null") })
    }

    @Test func totalsSeriesAndRoutesOverTheWindow() throws {
        let m = Int64(now) / 60 * 60 // current minute
        let rows = [
            PerformanceRow(bucket: m, group: "/api/ops/summary", counts: counts(100, errors: 5, clientErrors: 10, ms: 20)),
            PerformanceRow(bucket: m - 60, group: "/api/ops/summary", counts: counts(50, ms: 40)),
            PerformanceRow(bucket: m - 59 * 60, group: "/api/ops/alerts/{id}/ack", counts: counts(10, errors: 10, ms: 900)),
            PerformanceRow(bucket: m - 60 * 60, group: "/api/ops/summary", counts: counts(1_000)), // outside 1h
            PerformanceRow(bucket: m, group: "static", counts: counts(500, ms: 0.1)),
        ]
        let j = PerformanceReport.build(PerformanceInputs(range: .hour, now: now, rows: rows, lastFlushAt: now - 3,
                                                          latestMinute: m, probe: nil))
        #expect(j["requests"] == 160 && j["errors"] == 15 && j["client_errors"] == 10 && j["static_requests"] == 500)
        #expect(j["error_rate"] == .double(9.375))
        let window = now - Double(m - 59 * 60)
        #expect(j["request_rate"]?.doubleValue.map { abs($0 - 160 / window) < 1e-3 } == true)
        #expect(j["freshness_s"] == 3.0 && j["as_of"] == "2024-11-22T02:02:27Z")
        let p50 = try #require(j["api_response_time"]?["p50"]?.doubleValue)
        let p99 = try #require(j["api_response_time"]?["p99"]?.doubleValue)
        #expect(abs(p50 - 20) / 20 < 0.2 && abs(p99 - 900) / 900 < 0.2, "p50 \(p50) p99 \(p99)")

        let series = try #require(j["series"]?.arrayValue)
        #expect(series.count == 60)
        #expect(series[59]["requests"] == 100 && series[59]["errors"] == 5)
        #expect(series[58]["requests"] == 50 && series[0]["requests"] == 10 && series[0]["errors"] == 10)
        #expect(series[30] == ["ts": .string(series[30]["ts"]!.stringValue!), "requests": 0, "errors": 0, "p95": nil])

        let routes = try #require(j["routes"]?.arrayValue)
        #expect(routes.map { $0["route_group"]!.stringValue! } == ["static", "/api/ops/summary", "/api/ops/alerts/{id}/ack"])
        #expect(routes[1]["requests"] == 150 && routes[1]["errors"] == 5 && routes[1]["client_errors"] == 10)
        #expect(routes[2]["error_rate"] == 100.0)
        #expect(routes[2]["avg_ms"] == 900.0)
        #expect((j["warnings"]?.arrayValue ?? []).allSatisfy { $0.stringValue?.hasPrefix("uptime") == true })
    }

    @Test func longRangesSumMinutesIntoHours() throws {
        let hour = Int64(now) / 3_600 * 3_600
        let rows = [
            PerformanceRow(bucket: hour - 3 * 3_600, group: "/api/ops/top", counts: counts(7)),   // a rollup hour
            PerformanceRow(bucket: hour + 60, group: "/api/ops/top", counts: counts(2)),          // minutes of this hour
            PerformanceRow(bucket: hour + 120, group: "/api/ops/top", counts: counts(3, errors: 1)),
            PerformanceRow(bucket: hour - 24 * 3_600, group: "/api/ops/top", counts: counts(99)), // outside 24h
        ]
        let j = PerformanceReport.build(PerformanceInputs(range: .day, now: now, rows: rows, lastFlushAt: now,
                                                          latestMinute: nil, probe: nil))
        let series = try #require(j["series"]?.arrayValue)
        #expect(j["step_s"] == 3_600 && series.count == 24)
        #expect(series[23]["requests"] == 5 && series[23]["errors"] == 1 && series[20]["requests"] == 7)
        #expect(j["requests"] == 12)
        let week = PerformanceReport.build(PerformanceInputs(range: .week, now: now, rows: rows, lastFlushAt: now,
                                                             latestMinute: nil, probe: nil))
        #expect(week["series"]?.arrayValue?.count == 168 && week["requests"] == 111)
    }

    @Test func topTwentyRoutesByRequestsThenName() throws {
        let m = Int64(now) / 60 * 60
        let rows = (0..<30).map { PerformanceRow(bucket: m, group: "/g/\(100 + $0 % 25)", counts: counts(1 + $0 % 25 / 5)) }
        let j = PerformanceReport.build(PerformanceInputs(range: .sixHours, now: now, rows: rows, lastFlushAt: now,
                                                          latestMinute: m, probe: nil))
        let routes = try #require(j["routes"]?.arrayValue)
        #expect(routes.count == PerformanceReport.topRoutes)
        let pairs = routes.map { ($0["requests"]!.intValue!, $0["route_group"]!.stringValue!) }
        let sorted = pairs.sorted { $0.0 != $1.0 ? $0.0 > $1.0 : $0.1 < $1.1 }
        #expect(pairs.map(\.1) == sorted.map(\.1))
        #expect(j["series"]?.arrayValue?.count == 360)
    }

    @Test func staleTailIsAWarning() {
        let j = PerformanceReport.build(PerformanceInputs(range: .hour, now: now, rows: [], lastFlushAt: now - 600,
                                                          latestMinute: nil, probe: nil))
        let warnings = j["warnings"]?.arrayValue?.compactMap(\.stringValue) ?? []
        #expect(warnings.contains { $0.contains("last reported 600 s ago") })
        #expect(warnings.contains("no API requests in the last 1h"))
    }

    @Test func uptimeFollowsTheAPIHealthProbe() {
        func uptime(_ last: Double?, ok: Bool, failure: Double? = nil, first: Double? = nil) -> (Double?, String?) {
            PerformanceReport.uptimeSeconds(APIProbeHistory(service: "api", intervalSeconds: 15, lastSampleAt: last, lastOK: ok,
                                                            lastFailureAt: failure, firstSampleAt: first), now: now)
        }
        #expect(PerformanceReport.uptimeSeconds(nil, now: now).0 == nil)
        #expect(uptime(nil, ok: false).0 == nil)
        #expect(uptime(now - 5, ok: false, failure: now - 5).0 == 0)
        #expect(uptime(now - 5, ok: true, failure: now - 125, first: now - 9_000).0 == 125)
        #expect(uptime(now - 5, ok: true, first: now - 9_000).0 == 9_000)
        let stale = uptime(now - 3_600, ok: true, first: now - 9_000)
        #expect(stale.0 == nil && stale.1?.contains("last ran 3600 s ago") == true)
    }

    /// The packed text Postgres sends (one line a row) sums to exactly what the rows do.
    @Test func packedRowsSumLikeRows() throws {
        var rng = SplitMix(seed: 11)
        let m = Int64(now) / 60 * 60
        var rows: [PerformanceRow] = []
        for i in 0..<2_000 {
            var c = MinuteCounts()
            for _ in 0..<(1 + Int(rng.next() % 20)) {
                c.count(status: [200, 404, 401, 503][Int(rng.next() % 4)], latencyMillis: 500 * rng.double() * rng.double())
            }
            c.histogram = LatencyHistogram.trimmed(c.histogram)
            let group = ["/api/ops/summary", "static", "/a|b/{id}", "other"][i % 4]
            rows.append(PerformanceRow(bucket: m - Int64(rng.next() % 400) * 60, group: group, counts: c))
        }
        let text = rows.map(PackedRows.line).joined(separator: "\n")
        for range in PerformanceRange.allCases {
            var packed = PerformanceTotals(range: range, now: now)
            #expect(packed.addPacked(text + "\n\nnot|a|row\n1|2|3|4|5|6|{1,x}|g") == 2)
            let fromRows = PerformanceInputs(range: range, now: now, rows: rows, lastFlushAt: now, latestMinute: nil, probe: nil)
            let fromText = PerformanceInputs(range: range, now: now, totals: packed, lastFlushAt: now, latestMinute: nil, probe: nil)
            var a = PerformanceReport.build(fromRows).objectValue!
            var b = PerformanceReport.build(fromText).objectValue!
            a["to"] = nil
            b["to"] = nil
            #expect(b["warnings"]?.arrayValue?.contains("2 stored row(s) could not be read and are left out") == true)
            a["warnings"] = nil
            b["warnings"] = nil
            // Latency sums pass through text: equal to the printed precision.
            #expect(JSON.object(a) == JSON.object(b), "\(range)")
        }
        var t = PerformanceTotals(range: .hour, now: now)
        t.addPacked("\(m)|3|1|1|1|12.5|{0,2,1}|/a|b/{id}")
        #expect(t.groupNames == ["/a|b/{id}"] && t.total.histogram.prefix(3) == [0, 2, 1] && t.total.latencySumMillis == 12.5)
    }

    @Test func rangesAndTheSwitchFromRollupsToMinutes() {
        #expect(PerformanceRange.allCases.map(\.rawValue) == ["1h", "6h", "24h", "7d"])
        #expect(PerformanceRange.allCases.map(\.bucketCount) == [60, 360, 24, 168])
        #expect(PerformanceRange.week.firstBucket(now: now) == (Int64(now) / 3_600 - 167) * 3_600)
        let hour = Int64(now) / 3_600 * 3_600
        #expect(RollupPolicy.minutesFrom(dirtyFrom: nil, now: now) == hour + 3_600)
        #expect(RollupPolicy.minutesFrom(dirtyFrom: hour - 3_000, now: now) == hour - 3_600)
        #expect(RollupPolicy.minutesFrom(dirtyFrom: hour - 100 * 3_600, now: now) == hour - 47 * 3_600)
    }
}

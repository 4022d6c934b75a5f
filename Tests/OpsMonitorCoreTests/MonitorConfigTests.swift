import OpsMonitorCore
import Testing

@Suite struct MonitorConfigTests {
    @Test func parsesServicesAndDefaults() throws {
        let c = try MonitorConfig.parse("""
            {"services":[{"name":"db","kind":"postgres","target":"postgresql://x@127.0.0.1/db"},
                         {"name":"api","kind":"http","target":"http://127.0.0.1:1/h","interval_s":5,"timeout_ms":300,
                          "thresholds":{"degraded_ms":100}}],
             "data_directories":[{"name":"pg","path":"/tmp"}], "access_log":{"path":"/tmp/a.log"}}
            """)
        #expect(c.services.count == 2)
        #expect(c.services[0].intervalSeconds == 15 && c.services[0].timeoutMillis == 2000)
        #expect(c.services[1].intervalSeconds == 5 && c.services[1].timeoutMillis == 300 && c.services[1].degradedMillis == 100)
        #expect(c.dataDirectories == [DataDirectory(name: "pg", path: "/tmp")])
        #expect(c.accessLog?.path == "/tmp/a.log")
        #expect(c.alerts == .defaults)
    }

    @Test func errorsNameThePath() {
        func error(_ text: String) -> String {
            do { _ = try MonitorConfig.parse(text); return "" } catch { return error.description }
        }
        #expect(error(#"{"servics":[]}"#).hasPrefix("servics: unknown key"))
        #expect(error(#"{"services":[{"name":"a","kind":"ftp","target":"x"}]}"#).hasPrefix("services[0].kind:"))
        #expect(error(#"{"services":[{"name":"a","kind":"tcp","target":"x","interval_s":0}]}"#).hasPrefix("services[0].interval_s:"))
        #expect(error(#"{"services":[{"name":"a","kind":"tcp","target":"x"},{"name":"a","kind":"tcp","target":"y"}]}"#).contains("duplicate"))
        #expect(error("[1]").contains("expected a JSON object"))
        #expect(error("{").contains("not valid JSON"))
    }
}

@Suite struct LatencyHistogramTests {
    @Test func bucketsAndPercentiles() {
        var h = [Int64](repeating: 0, count: LatencyHistogram.bucketCount)
        for ms in 1...100 { h[LatencyHistogram.bucket(forMillis: Double(ms))] += 1 }
        let p50 = LatencyHistogram.percentile(h, 50)!
        let p99 = LatencyHistogram.percentile(h, 99)!
        #expect(abs(p50 - 50.5) / 50.5 < 0.12, "p50 \(p50)")
        #expect(abs(p99 - 99) / 99 < 0.12, "p99 \(p99)")
        #expect(LatencyHistogram.percentile([Int64](repeating: 0, count: 4), 50) == nil)
        #expect(LatencyHistogram.bucket(forMillis: 0) == 0)
        #expect(LatencyHistogram.bucket(forMillis: 1e9) == LatencyHistogram.bucketCount - 1)
        #expect(LatencyHistogram.add([1, 2], [3, 4, 5]) == [4, 6, 5])
    }
}

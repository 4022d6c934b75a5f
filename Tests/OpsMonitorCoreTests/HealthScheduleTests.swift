import OpsMonitorCore
import Testing

@Suite struct HealthScheduleTests {
    @Test func poolSizeFollowsServiceCount() {
        #expect(ProbeSchedule.poolSize(services: 1) == 4)
        #expect(ProbeSchedule.poolSize(services: 100) == 5)
        #expect(ProbeSchedule.poolSize(services: 400) == 20)
        #expect(ProbeSchedule.poolSize(services: 1000) == 32)
        #expect(ProbeSchedule.poolSize(services: 100_000) == 32)
    }

    @Test func startOffsetsAreStableAndSpread() {
        let offsets = (0..<1000).map { ProbeSchedule.startOffset(name: "svc-\($0)", interval: 30) }
        #expect(offsets.allSatisfy { $0 >= 0 && $0 < 30 })
        #expect(offsets == (0..<1000).map { ProbeSchedule.startOffset(name: "svc-\($0)", interval: 30) })
        // Roughly uniform: each 3 s tenth of the interval gets 60–140 of the 1,000 starts.
        var buckets = [Int](repeating: 0, count: 10)
        for o in offsets { buckets[Int(o / 3)] += 1 }
        #expect(buckets.allSatisfy { (60...140).contains($0) }, "\(buckets)")
        // Long intervals still start within 30 s; short ones within their interval.
        #expect(ProbeSchedule.startOffset(name: "slow", interval: 3600) < 30)
        #expect(ProbeSchedule.startOffset(name: "fast", interval: 2) < 2)
    }

    @Test func nextSlotDoesNotDriftAndSkipsMissedSlots() {
        // On time: the next slot is one interval after the scheduled time, however long the check took.
        #expect(ProbeSchedule.next(after: 100, interval: 30, now: 101.7) == (130, 0))
        #expect(ProbeSchedule.next(after: 100, interval: 30, now: 129.9) == (130, 0))
        // A check that ran past its next slot: that slot is skipped, not run late.
        #expect(ProbeSchedule.next(after: 100, interval: 30, now: 130) == (160, 1))
        #expect(ProbeSchedule.next(after: 100, interval: 30, now: 195) == (220, 3))
    }

    @Test func dueQueuePopsEarliestFirst() {
        var q = ProbeDueQueue()
        var rng = HealthTestRandom(seed: 5)
        let dues = (0..<500).map { _ in rng.uniform() * 1000 }
        for (i, d) in dues.enumerated() { q.insert(.init(due: d, service: i)) }
        var popped: [Double] = []
        while let e = q.popFirst() { popped.append(e.due) }
        #expect(popped == dues.sorted())
        #expect(q.isEmpty)
    }

    @Test func latenessPercentilesPerMinuteAndTotal() {
        var s = ProbeLatenessStats()
        for ms in 1...100 { s.record(latenessMillis: Double(ms)) }
        s.rollMinute()
        for _ in 0..<100 { s.record(latenessMillis: 1000) }
        s.recordSkipped(2)
        #expect(s.totalChecks == 200 && s.totalSkipped == 2 && s.maxMillis == 1000)
        let p50 = s.percentile(50, lastMinuteOnly: true)!
        #expect(abs(p50 - 50) / 50 < 0.12)
        #expect(s.percentile(99)! > 800)
        s.rollMinute()
        #expect(s.percentile(50, lastMinuteOnly: true)! > 800)
        #expect(ProbeLatenessStats().percentile(99) == nil)
    }
}

@Suite struct HealthHostStatsTests {
    @Test func procFiles() {
        let meminfo = "MemTotal:       24683848 kB\nMemFree:        21334176 kB\nMemAvailable:   24168000 kB\nBuffers: 1 kB\n"
        let m = HostStats.memory(meminfo: meminfo)!
        #expect(m.total == 24_683_848 * 1024 && m.available == 24_168_000 * 1024)
        #expect(HostStats.memory(meminfo: "MemTotal: 1000 kB\nMemFree: 400 kB\n")!.available == 400 * 1024)
        #expect(HostStats.memory(meminfo: "") == nil)
        let l = HostStats.load(loadavg: "0.52 0.58 0.59 1/389 12345\n")!
        #expect(l.0 == 0.52 && l.1 == 0.58 && l.2 == 0.59)
        #expect(HostStats.residentBytes(statm: "9000 2500 600 1 0 3000 0\n", pageSize: 4096) == Int64(2500 * 4096))
    }

    @Test func diskFiguresAsDfCountsThem() {
        let fs = HostStats.FileSystem(totalBytes: 100_000, freeBytes: 30_000, availableBytes: 25_000)
        #expect(fs.usedBytes == 70_000)
        #expect(fs.usedPercent == 73.7)   // 70 / (70 + 25)
        let j = HostStats.directoryJSON(name: "logs", path: "/x", fs: fs, sizeBytes: 4096, error: nil)
        #expect(j["name"] == .string("logs") && j["size_bytes"] == .int(4096) && j["used_pct"] == .double(73.7))
        #expect(j["free_bytes"] == .int(25_000))
        let missing = HostStats.directoryJSON(name: "gone", path: "/nope", fs: nil, sizeBytes: nil, error: "cannot stat /nope")
        #expect(missing["total_bytes"] == .null && missing["size_bytes"] == .null && missing["error"] == .string("cannot stat /nope"))
        let mem = HostStats.memoryJSON(total: 1000, available: 250, monitorRSS: 10)
        #expect(mem["used_bytes"] == .int(750) && mem["used_pct"] == .double(75) && mem["monitor_rss_bytes"] == .int(10))
    }

    @Test func retentionPlan() {
        let rules = RetentionPlan.rules(retentionDays: 30)
        func age(_ table: String) -> Double? { rules.first { $0.table == table }?.maxAgeSeconds }
        #expect(age("ops.probe_samples") == Double(7 * 86_400))
        #expect(age("ops.api_minutes") == Double(2 * 86_400))
        #expect(age("ops.capacity_samples") == Double(7 * 86_400))
        for t in ["ops.probe_rollups", "ops.api_rollups", "ops.system_errors", "ops.heartbeat_samples", "ops.events",
                  "ops.notification_outbox", "ops.alerts", "ops.runs", "ops.messages", "ops.llm_calls"] {
            #expect(age(t) == Double(30 * 86_400), "\(t)")
        }
        // The users-by-hour axis serves only the last 24 h; the rest of the run aggregates are
        // kept two days longer than the runs.
        #expect(age("ops.run_rollup") == Double(2 * 86_400))
        #expect(rules.first { $0.table == "ops.run_rollup" }!.batchDeleteSQL.contains("bucket < $1 AND (axis = 'h') LIMIT $2"))
        #expect(rules.last { $0.table == "ops.run_rollup" }!.maxAgeSeconds == Double(32 * 86_400))
        #expect(rules.last { $0.table == "ops.run_rollup" }!.condition == nil)
        #expect(age("ops.llm_rollup") == Double(32 * 86_400))
        // After the runs and calls, whose deletion empties their buckets first.
        #expect(rules.firstIndex { $0.table == "ops.run_rollup" }! > rules.firstIndex { $0.table == "ops.runs" }!)
        #expect(rules.firstIndex { $0.table == "ops.llm_rollup" }! > rules.firstIndex { $0.table == "ops.llm_calls" }!)
        let alerts = rules.first { $0.table == "ops.alerts" }!
        #expect(alerts.batchDeleteSQL.contains("resolved_at < $1 AND (state = 'resolved') LIMIT $2"))
        #expect(rules.first { $0.table == "ops.notification_outbox" }!.condition == "sent_at IS NOT NULL")
    }
}

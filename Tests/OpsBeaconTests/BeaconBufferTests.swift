import OpsActivity
@testable import OpsBeacon
import OpsJSON
import Testing

/// 2026-12-07T12:00:00Z and offsets from it, in µs.
let noon: Int64 = 1_796_644_800 * 1_000_000
func at(seconds: Double) -> Int64 { noon + Int64(seconds * 1_000_000) }

func report(_ fingerprint: String, route: String = "/page") -> BeaconReport {
    BeaconReport(message: "boom", stack: nil, errorType: nil, source: nil, route: route, buildHash: nil, browser: nil,
                 wsState: nil, ts: nil, breadcrumbs: nil, fingerprint: fingerprint)
}

@Suite struct FingerprintBudgetTests {
    @Test func capsEachFingerprintPerMinute() {
        var b = FingerprintBudget(perMinute: 3)
        #expect((0..<5).map { _ in b.admit("a", nowMicros: at(seconds: 1)) } == [true, true, true, false, false])
        let other = b.admit("b", nowMicros: at(seconds: 2))
        #expect(other, "another error is not held back")
        #expect(b.count("a", nowMicros: at(seconds: 59)) == 3)
        let nextMinute = b.admit("a", nowMicros: at(seconds: 60))
        #expect(nextMinute, "a new minute starts a new budget")
        #expect(b.count("a", nowMicros: at(seconds: 61)) == 1)
        #expect(b.trackedFingerprints == 1, "the old minute's entries are forgotten")
    }

    @Test func retryAfterIsTheRestOfTheMinute() {
        #expect(FingerprintBudget.retryAfterSeconds(nowMicros: at(seconds: 0)) == 60)
        #expect(FingerprintBudget.retryAfterSeconds(nowMicros: at(seconds: 15.5)) == 45)
        #expect(FingerprintBudget.retryAfterSeconds(nowMicros: at(seconds: 59.9)) == 1)
        #expect(FingerprintBudget.minute(ofMicros: -1) == -1)
    }

    @Test func otherProcessesCountsArriveWithAFlush() {
        var b = FingerprintBudget(perMinute: 10)
        for _ in 0..<2 { let ok = b.admit("a", nowMicros: at(seconds: 1)); #expect(ok) }
        let minute = FingerprintBudget.minute(ofMicros: noon)
        let sent = [BudgetDelta(fingerprint: "a", minute: minute, count: 2)]
        // Postgres holds 9 after adding ours: the other workers took 7.
        b.synced(sent, totals: [BudgetDelta(fingerprint: "a", minute: minute, count: 9)])
        #expect(b.count("a", nowMicros: at(seconds: 2)) == 9)
        let tenth = b.admit("a", nowMicros: at(seconds: 2))
        let eleventh = b.admit("a", nowMicros: at(seconds: 2))
        #expect(tenth && !eleventh)
        // A total from another minute does not count for this one.
        b.synced([BudgetDelta(fingerprint: "a", minute: minute, count: 1)],
                 totals: [BudgetDelta(fingerprint: "a", minute: minute + 1, count: 50)])
        #expect(b.count("a", nowMicros: at(seconds: 3)) == 9)
    }

    @Test func reportsAdmittedDuringAFlushStayCounted() {
        var b = FingerprintBudget(perMinute: 10)
        for _ in 0..<3 { _ = b.admit("a", nowMicros: at(seconds: 1)) }
        let minute = FingerprintBudget.minute(ofMicros: noon)
        // The flush carried 2 of the 3; the third is still queued.
        b.synced([BudgetDelta(fingerprint: "a", minute: minute, count: 2)],
                 totals: [BudgetDelta(fingerprint: "a", minute: minute, count: 2)])
        #expect(b.count("a", nowMicros: at(seconds: 1)) == 3)
    }

    @Test func deltasAreOneRowPerFingerprintForItsNewestMinute() {
        let batch = [at(seconds: 58), at(seconds: 59), at(seconds: 61)].map {
            QueuedBeacon(report: report("a"), receivedMicros: $0, bytes: 10)
        } + [QueuedBeacon(report: report("b"), receivedMicros: at(seconds: 1), bytes: 10)]
        let m = FingerprintBudget.minute(ofMicros: noon)
        #expect(FingerprintBudget.deltas(of: batch) == [BudgetDelta(fingerprint: "a", minute: m + 1, count: 1),
                                                        BudgetDelta(fingerprint: "b", minute: m, count: 1)])
    }
}

@Suite struct BeaconBufferTests {
    func buffer(maxReports: Int = 100, maxBytes: Int = 1 << 20, batch: Int = 4, maxBatch: Int = 10,
                perMinute: Int = 1000) -> BeaconBuffer {
        BeaconBuffer(limits: .init(maxReports: maxReports, maxBytes: maxBytes, batchReports: batch,
                                   maxBatchReports: maxBatch, flushIntervalMicros: 50_000),
                     perFingerprintPerMinute: perMinute)
    }

    @Test func aFlushIsDueAfterTheIntervalOrAFullBatch() {
        var b = buffer()
        #expect(b.flushDueMicros() == nil, "nothing waits")
        #expect(b.offer(report("a"), bytes: 10, nowMicros: at(seconds: 1)) == .accepted)
        #expect(b.offer(report("a"), bytes: 10, nowMicros: at(seconds: 1.01)) == .accepted)
        #expect(b.flushDueMicros() == at(seconds: 1.05), "the oldest report waits at most the interval")
        for _ in 0..<2 { _ = b.offer(report("a"), bytes: 10, nowMicros: at(seconds: 1.02)) }
        #expect(b.flushDueMicros() == .min, "a full batch is due at once")
    }

    @Test func batchesKeepArrivalOrderAndTheirSizeCap() {
        var b = buffer(maxBatch: 3)
        for i in 0..<5 { _ = b.offer(report("a", route: "/r\(i)"), bytes: 10, nowMicros: at(seconds: Double(i))) }
        #expect(b.queuedBytes == 50)
        let first = b.takeBatch()
        #expect(first.reports.map(\.report.route) == ["/r0", "/r1", "/r2"])
        #expect(first.reports.map(\.receivedMicros) == [at(seconds: 0), at(seconds: 1), at(seconds: 2)])
        #expect(b.queuedReports == 2 && b.queuedBytes == 20)
        _ = b.offer(report("a", route: "/r5"), bytes: 10, nowMicros: at(seconds: 5))
        #expect(b.takeBatch().reports.map(\.report.route) == ["/r3", "/r4", "/r5"])
        #expect(b.takeBatch().isEmpty && b.flushDueMicros() == nil)
    }

    @Test func aFullQueueRefusesAndCountsWithoutSpendingBudget() {
        var b = buffer(maxReports: 2, perMinute: 2)
        #expect(b.offer(report("a"), bytes: 10, nowMicros: at(seconds: 1)) == .accepted)
        #expect(b.offer(report("b"), bytes: 10, nowMicros: at(seconds: 1)) == .accepted)
        #expect(b.offer(report("a"), bytes: 10, nowMicros: at(seconds: 1)) == .queueFull)
        #expect(b.budget.count("a", nowMicros: at(seconds: 1)) == 1)
        let batch = b.takeBatch()
        #expect(batch.drops.map(\.reason) == ["queue_full"] && batch.drops.map(\.count) == [1])
        #expect(b.offer(report("a"), bytes: 10, nowMicros: at(seconds: 1)) == .accepted, "room again after a flush")
    }

    @Test func theByteCapCountsToo() {
        var b = buffer(maxBytes: 100)
        #expect(b.offer(report("a"), bytes: 60, nowMicros: at(seconds: 1)) == .accepted)
        #expect(b.offer(report("b"), bytes: 60, nowMicros: at(seconds: 1)) == .queueFull)
        #expect(b.offer(report("c"), bytes: 40, nowMicros: at(seconds: 1)) == .accepted)
    }

    @Test func throttledReportsAreCountedAndTheirRefusalsFlushed() {
        var b = buffer(perMinute: 1)
        #expect(b.offer(report("a"), bytes: 10, nowMicros: at(seconds: 15)) == .accepted)
        #expect(b.offer(report("a"), bytes: 10, nowMicros: at(seconds: 15)) == .throttled(retryAfterSeconds: 45))
        b.countDrop("invalid_json", nowMicros: at(seconds: 16))
        let batch = b.takeBatch()
        #expect(batch.reports.count == 1)
        #expect(batch.drops.map(\.reason) == ["fingerprint_rate", "invalid_json"])
        #expect(batch.budget == [BudgetDelta(fingerprint: "a", minute: FingerprintBudget.minute(ofMicros: noon), count: 1)])
        #expect(b.takeBatch().drops.isEmpty, "counts are taken once")
    }

    @Test func refusalsAloneAreFlushedWithinTheInterval() {
        var b = buffer()
        b.countDrop("too_large", nowMicros: at(seconds: 3))
        #expect(b.flushDueMicros() == at(seconds: 3.05))
        let batch = b.takeBatch()
        #expect(batch.reports.isEmpty && !batch.isEmpty)
        #expect(b.flushDueMicros() == nil)
    }

    @Test func committedBatchesShareTheBudget() {
        var b = buffer(perMinute: 5)
        _ = b.offer(report("a"), bytes: 10, nowMicros: at(seconds: 1))
        let batch = b.takeBatch()
        let m = FingerprintBudget.minute(ofMicros: noon)
        b.committed(batch, totals: [BudgetDelta(fingerprint: "a", minute: m, count: 5)])
        #expect(b.offer(report("a"), bytes: 10, nowMicros: at(seconds: 2)) == .throttled(retryAfterSeconds: 58))
    }
}

@Suite struct BeaconTextTests {
    /// Postgres text cannot hold U+0000 (and libpq would cut the parameter there): the JSON
    /// parser refuses it, so no report carries one to the batch statement.
    @Test func aNulCharacterIsRefused() {
        #expect(throws: BeaconRejection.self) { try BeaconParser.parse(Array(#"{"message":"a\u0000b"}"#.utf8)) }
        #expect(throws: BeaconRejection.self) { try BeaconParser.parse(Array(#"{"message":"x","breadcrumbs":[{"k":"\u0000"}]}"#.utf8)) }
    }
}

@Suite struct FingerprintFastPathTests {
    /// The byte rules must give exactly the Character rules' frames (fingerprints are versioned).
    @Test func asciiStacksGiveTheSameFramesAsTheCharacterRules() {
        var stacks = [
            "TypeError: x\n    at renderRow (https://a.example/assets/table.3f9a12bc.js:10:5)\n    at Array.map (<anonymous>)\n    at main (https://a/app.js?v=1:2:1)",
            "renderRow@https://app.example.com/assets/table.3f9a12bc.js:10:5\n@https://app.example.com/assets/app.js:2:1\n",
            "  at  f  ( x.js:1:2 )  \n\tat g (chunk-8812ab.js:3)\nat\nat (\n@\n@:\n a@b@c \n",
            "at x (a.b-123456.c.d:12:34:56)\nat y (..:1)\nat z (-:.)\nat w (/#?:1)\nat ()\nat )\nat ((()))",
            "Error\r    at lone (cr.js:1:1)\r\r    at two (dd.js:2:2)",
            "   at f (app.ABCDEF1.js:1:1)\n   at g (app.abcdef.js:1:1)\n   at h (x.1234567-abc123.js)",
            "",
            "no frames here at all",
        ]
        // Random lines from the characters that matter to the rules.
        var rng = SystemRandomNumberGenerator()
        let alphabet: [Character] = ["a", "t", " ", "(", ")", "@", ":", "/", ".", "-", "?", "#", "\t", "\r", "\n",
                                     "0", "1", "2", "9", "b", "c", "f", "X", "Z", "_", "<", ">"]
        for _ in 0..<3000 {
            stacks.append(String((0..<Int.random(in: 0..<60, using: &rng)).map { _ in alphabet.randomElement(using: &rng)! }))
        }
        func hasCRLF(_ s: String) -> Bool { zip(s.utf8, s.utf8.dropFirst()).contains { $0 == 13 && $1 == 10 } }
        for s in stacks where !s.utf8.contains(where: { $0 >= 0x80 }) && !hasCRLF(s) {
            #expect(Fingerprint.asciiTopFrames(s) == Fingerprint.characterTopFrames(s), "stack: \(s.debugDescription)")
        }
    }

    @Test func otherStacksTakeTheCharacterRules() {
        #expect(Fingerprint.asciiTopFrames("at f (a.js:1:1)\r\nat g (b.js:1:1)") == nil)
        #expect(Fingerprint.asciiTopFrames("at fé (a.js:1:1)") == nil)
        #expect(Fingerprint.topFrames("at fé (a.js:1:1)") == ["fé@a.js"])
    }
}

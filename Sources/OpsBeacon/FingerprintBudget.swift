/// The per-fingerprint budget (`OPS_BEACON_FINGERPRINT_PER_MIN` reports of one error a
/// minute), decided in the worker's memory and shared between worker processes through the
/// flushes: each flush adds this process's accepted counts to the fingerprint's row in
/// Postgres and reads back the total of all processes for that minute.
///
/// A process admits a report when `shared + unsynced < perMinute`, where `shared` is the
/// all-process total as of this process's last flush that carried the fingerprint and
/// `unsynced` what it accepted since. So the cap is exact within one process, and across W
/// processes a minute's total can exceed it by what the other W − 1 processes accept of that
/// fingerprint between two flushes (at most one flush interval's worth each).
///
/// Minutes are the worker clock's (UTC, `micros / 60 s`). Not thread-safe: `BeaconQueue`
/// holds its lock around every call.
public struct FingerprintBudget {
    public let perMinute: Int

    struct Entry: Equatable {
        var minute: Int64
        var shared: Int
        var unsynced: Int
    }

    var entries: [String: Entry] = [:]
    /// The newest minute seen; entries of older minutes are pruned when it moves on.
    var currentMinute: Int64 = .min

    public init(perMinute: Int) { self.perMinute = perMinute }

    public static func minute(ofMicros micros: Int64) -> Int64 {
        micros >= 0 ? micros / 60_000_000 : (micros - 59_999_999) / 60_000_000
    }

    /// Seconds until the next minute starts (1...60): the `Retry-After` of a refusal.
    public static func retryAfterSeconds(nowMicros: Int64) -> Int {
        let intoMinute = nowMicros - minute(ofMicros: nowMicros) * 60_000_000
        return max(1, Int(60 - intoMinute / 1_000_000))
    }

    /// Whether one more report of `fingerprint` fits in the minute of `nowMicros`; counts it
    /// when it does.
    public mutating func admit(_ fingerprint: String, nowMicros: Int64) -> Bool {
        let minute = Self.minute(ofMicros: nowMicros)
        if minute > currentMinute {
            currentMinute = minute
            // Only the current minute's counts matter; forget the rest.
            entries = entries.filter { $0.value.minute >= minute }
        }
        var e = entries[fingerprint] ?? Entry(minute: minute, shared: 0, unsynced: 0)
        if e.minute != minute { e = Entry(minute: minute, shared: 0, unsynced: 0) }
        guard e.shared + e.unsynced < perMinute else {
            entries[fingerprint] = e
            return false
        }
        e.unsynced += 1
        entries[fingerprint] = e
        return true
    }

    /// What a flush adds to the shared counts: per fingerprint, the batch's reports of the
    /// newest minute among them (one row per fingerprint: the table keeps one minute).
    public static func deltas(of batch: [QueuedBeacon]) -> [BudgetDelta] {
        var by: [String: BudgetDelta] = [:]
        for q in batch {
            let m = minute(ofMicros: q.receivedMicros)
            if let d = by[q.report.fingerprint], d.minute > m { continue }
            if let d = by[q.report.fingerprint], d.minute == m {
                by[q.report.fingerprint] = BudgetDelta(fingerprint: d.fingerprint, minute: m, count: d.count + 1)
            } else {
                by[q.report.fingerprint] = BudgetDelta(fingerprint: q.report.fingerprint, minute: m, count: 1)
            }
        }
        return by.values.sorted { $0.fingerprint < $1.fingerprint }
    }

    /// After a flush committed `sent`: those counts are no longer this process's alone, and
    /// `totals` (what Postgres now holds, all processes) becomes the shared part.
    public mutating func synced(_ sent: [BudgetDelta], totals: [BudgetDelta]) {
        var total: [String: BudgetDelta] = [:]
        for t in totals { total[t.fingerprint] = t }
        for d in sent {
            guard var e = entries[d.fingerprint], e.minute == d.minute else { continue }
            e.unsynced = max(0, e.unsynced - d.count)
            if let t = total[d.fingerprint], t.minute == d.minute { e.shared = max(e.shared, t.count) }
            entries[d.fingerprint] = e
        }
    }

    /// This process's view of a fingerprint's count in the minute of `nowMicros` (tests, logs).
    public func count(_ fingerprint: String, nowMicros: Int64) -> Int {
        guard let e = entries[fingerprint], e.minute == Self.minute(ofMicros: nowMicros) else { return 0 }
        return e.shared + e.unsynced
    }

    public var trackedFingerprints: Int { entries.count }
}

/// A fingerprint's count for one minute: sent to Postgres by a flush, or read back from it.
public struct BudgetDelta: Equatable, Sendable {
    public let fingerprint: String
    public let minute: Int64
    public let count: Int

    public init(fingerprint: String, minute: Int64, count: Int) {
        self.fingerprint = fingerprint
        self.minute = minute
        self.count = count
    }
}

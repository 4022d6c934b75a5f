/// When each service is probed: on its own interval from a jittered start, slot after slot
/// (the next slot is counted from the scheduled time, not from when the check ran, so checks
/// do not drift), never two checks of one service at once.
public enum ProbeSchedule {
    /// Threads that run probes: enough that slow or timing-out targets do not hold up the
    /// others (about one per 20 services), at least 4, at most 32.
    public static func poolSize(services: Int) -> Int { min(32, max(4, services / 20)) }

    /// First checks are spread over the first interval (at most 30 s), so 1,000 services at
    /// 30 s start as 33 a second rather than 1,000 at once. The offset is derived from the
    /// name, so a restarted monitor spreads them the same way.
    public static let maxStartJitterSeconds = 30.0

    public static func startOffset(name: String, interval: Double) -> Double {
        Double(fnv1a(name) % 1_000_000) / 1_000_000 * min(interval, maxStartJitterSeconds)
    }

    /// The next slot after a check scheduled at `scheduled` finished at `now`: the first
    /// `scheduled + k·interval` (k ≥ 1) that lies in the future. `skipped` counts the slots
    /// missed because the check (or the queue before it) took longer than an interval.
    public static func next(after scheduled: Double, interval: Double, now: Double) -> (due: Double, skipped: Int) {
        var k = 1.0
        if scheduled + interval <= now { k = ((now - scheduled) / interval).rounded(.down) + 1 }
        return (scheduled + k * interval, Int(k) - 1)
    }

    static func fnv1a(_ s: String) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in s.utf8 { h ^= UInt64(b); h = h &* 0x100_0000_01b3 }
        return h
    }
}

/// Services waiting for their next check, earliest first (a binary min-heap).
public struct ProbeDueQueue: Sendable {
    public struct Entry: Sendable, Equatable {
        public var due: Double
        public var service: Int
        public init(due: Double, service: Int) { self.due = due; self.service = service }
    }
    private var heap: [Entry] = []

    public init() {}
    public var count: Int { heap.count }
    public var isEmpty: Bool { heap.isEmpty }
    public var first: Entry? { heap.first }

    public mutating func removeAll() { heap.removeAll() }

    public mutating func insert(_ e: Entry) {
        heap.append(e)
        var i = heap.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            guard heap[i].due < heap[parent].due else { break }
            heap.swapAt(i, parent)
            i = parent
        }
    }

    public mutating func popFirst() -> Entry? {
        guard !heap.isEmpty else { return nil }
        let top = heap[0]
        let last = heap.removeLast()
        if !heap.isEmpty {
            heap[0] = last
            var i = 0
            while true {
                let l = 2 * i + 1, r = l + 1
                var m = i
                if l < heap.count && heap[l].due < heap[m].due { m = l }
                if r < heap.count && heap[r].due < heap[m].due { m = r }
                if m == i { break }
                heap.swapAt(i, m)
                i = m
            }
        }
        return top
    }
}

/// How late checks start against their schedule (actual start − scheduled time), for the last
/// full minute and since the monitor became active, as latency histograms (LatencyHistogram's
/// buckets: ~19 % apart, 0.25 ms to 60 s).
public struct ProbeLatenessStats: Sendable {
    public private(set) var total = [Int64](repeating: 0, count: LatencyHistogram.bucketCount)
    public private(set) var totalChecks: Int64 = 0
    public private(set) var totalSkipped: Int64 = 0
    public private(set) var maxMillis = 0.0
    private var minute = [Int64](repeating: 0, count: LatencyHistogram.bucketCount)
    public private(set) var lastMinute = [Int64](repeating: 0, count: LatencyHistogram.bucketCount)

    public init() {}

    public mutating func record(latenessMillis: Double) {
        let b = LatencyHistogram.bucket(forMillis: max(0, latenessMillis))
        total[b] += 1
        minute[b] += 1
        totalChecks += 1
        maxMillis = max(maxMillis, latenessMillis)
    }

    public mutating func recordSkipped(_ n: Int) { totalSkipped += Int64(n) }

    /// Closes the current minute (called once a minute): its counts become `lastMinute`.
    public mutating func rollMinute() {
        lastMinute = minute
        minute = [Int64](repeating: 0, count: LatencyHistogram.bucketCount)
    }

    public func percentile(_ p: Double, lastMinuteOnly: Bool = false) -> Double? {
        LatencyHistogram.percentile(lastMinuteOnly ? lastMinute : total, p)
    }
}

/// One accepted report waiting in a worker's memory to be written.
public struct QueuedBeacon: Sendable {
    public let report: BeaconReport
    /// When the worker accepted it (the stored `received_at`), µs since 1970.
    public let receivedMicros: Int64
    /// What it costs in memory, roughly (the request body's size).
    public let bytes: Int

    public init(report: BeaconReport, receivedMicros: Int64, bytes: Int) {
        self.report = report
        self.receivedMicros = receivedMicros
        self.bytes = bytes
    }
}

/// What one flush writes: reports in arrival order, refusals by reason, and the budget
/// counts to add to the shared ones.
public struct BeaconBatch: Sendable {
    public var reports: [QueuedBeacon]
    public var drops: [(reason: String, count: Int64)]
    public var budget: [BudgetDelta]

    public init(reports: [QueuedBeacon], drops: [(reason: String, count: Int64)], budget: [BudgetDelta]) {
        self.reports = reports
        self.drops = drops
        self.budget = budget
    }

    public var isEmpty: Bool { reports.isEmpty && drops.isEmpty }
}

/// The answer to a report offered to the queue.
public enum BeaconAdmission: Equatable, Sendable {
    /// Queued; written by the next flush.
    case accepted
    /// Over its fingerprint's budget for this minute (429, `Retry-After`).
    case throttled(retryAfterSeconds: Int)
    /// The queue is at its cap: the database is behind (503, `Retry-After`).
    case queueFull
}

/// A worker process's pending reports, refusal counts and fingerprint budget: the state
/// behind `BeaconQueue`, without locks or threads so it can be tested as it is.
///
/// Bounded by `maxReports` and `maxBytes` (reports waiting, not counting the batch being
/// written). A refused report is counted by reason (`queue_full`, `fingerprint_rate`, or the
/// parser's codes) and the counts travel with the next batch.
public struct BeaconBuffer {
    public struct Limits: Sendable {
        public var maxReports: Int
        public var maxBytes: Int
        /// A flush starts once this many reports wait (or the oldest has waited the interval).
        public var batchReports: Int
        /// Most reports one statement writes.
        public var maxBatchReports: Int
        public var flushIntervalMicros: Int64

        public init(maxReports: Int, maxBytes: Int, batchReports: Int, maxBatchReports: Int, flushIntervalMicros: Int64) {
            self.maxReports = maxReports
            self.maxBytes = maxBytes
            self.batchReports = batchReports
            self.maxBatchReports = maxBatchReports
            self.flushIntervalMicros = flushIntervalMicros
        }
    }

    public let limits: Limits
    public private(set) var budget: FingerprintBudget
    private(set) var queue: [QueuedBeacon] = []
    /// Index of the first report not yet taken (taking is O(1); the array is compacted when
    /// more than half of it has been taken).
    private var head = 0
    public private(set) var queuedBytes = 0
    private var drops: [String: Int64] = [:]
    /// Oldest refusal not yet taken, so drop counts are flushed within the interval too.
    private var oldestDropMicros: Int64?

    public init(limits: Limits, perFingerprintPerMinute: Int) {
        self.limits = limits
        self.budget = FingerprintBudget(perMinute: perFingerprintPerMinute)
    }

    public var queuedReports: Int { queue.count - head }

    /// Queues `report` unless the queue is full or its fingerprint is over budget; a refusal
    /// is counted.
    public mutating func offer(_ report: BeaconReport, bytes: Int, nowMicros: Int64) -> BeaconAdmission {
        if queuedReports >= limits.maxReports || queuedBytes + bytes > limits.maxBytes {
            countDrop("queue_full", nowMicros: nowMicros)
            return .queueFull
        }
        guard budget.admit(report.fingerprint, nowMicros: nowMicros) else {
            countDrop("fingerprint_rate", nowMicros: nowMicros)
            return .throttled(retryAfterSeconds: FingerprintBudget.retryAfterSeconds(nowMicros: nowMicros))
        }
        queue.append(QueuedBeacon(report: report, receivedMicros: nowMicros, bytes: bytes))
        queuedBytes += bytes
        return .accepted
    }

    public mutating func countDrop(_ reason: String, nowMicros: Int64) {
        drops[reason, default: 0] += 1
        if oldestDropMicros == nil { oldestDropMicros = nowMicros }
    }

    /// When the next flush is due: now if `batchReports` wait, else the oldest waiting
    /// report's (or refusal's) time plus the interval; nil when nothing waits.
    public func flushDueMicros() -> Int64? {
        if queuedReports >= limits.batchReports { return .min }
        let oldest = [queuedReports > 0 ? queue[head].receivedMicros : nil, oldestDropMicros].compactMap { $0 }.min()
        return oldest.map { $0 + limits.flushIntervalMicros }
    }

    /// Takes up to `maxBatchReports` of the oldest reports and every refusal count.
    public mutating func takeBatch() -> BeaconBatch {
        let n = min(queuedReports, limits.maxBatchReports)
        let reports = Array(queue[head..<(head + n)])
        head += n
        queuedBytes -= reports.reduce(0) { $0 + $1.bytes }
        if head == queue.count {
            queue.removeAll(keepingCapacity: true)
            head = 0
        } else if head > queue.count / 2 {
            queue.removeFirst(head)
            head = 0
        }
        let taken = drops.sorted { $0.key < $1.key }.map { (reason: $0.key, count: $0.value) }
        drops = [:]
        oldestDropMicros = nil
        return BeaconBatch(reports: reports, drops: taken, budget: FingerprintBudget.deltas(of: reports))
    }

    /// A batch was committed; `totals` are the shared budget counts Postgres returned.
    public mutating func committed(_ batch: BeaconBatch, totals: [BudgetDelta]) {
        budget.synced(batch.budget, totals: totals)
    }
}

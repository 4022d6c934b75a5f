/// Counts of one (minute, route group), as stored in ops.api_minutes.
public struct MinuteCounts: Equatable, Sendable {
    public var requests: Int64 = 0
    /// 5xx
    public var errors: Int64 = 0
    /// 4xx
    public var clientErrors: Int64 = 0
    /// 401 and 403
    public var authFailures: Int64 = 0
    public var latencySumMillis: Double = 0
    /// `LatencyHistogram.bucketCount` counts.
    public var histogram: [Int64] = Array(repeating: 0, count: LatencyHistogram.bucketCount)

    public init() {}

    public mutating func count(status: Int, latencyMillis: Double) {
        requests += 1
        switch status {
        case 500...599: errors += 1
        case 400...499:
            clientErrors += 1
            if status == 401 || status == 403 { authFailures += 1 }
        default: break
        }
        latencySumMillis += latencyMillis
        histogram[LatencyHistogram.bucket(forMillis: latencyMillis)] += 1
    }

    public mutating func add(_ other: MinuteCounts) {
        requests += other.requests
        errors += other.errors
        clientErrors += other.clientErrors
        authFailures += other.authFailures
        latencySumMillis += other.latencySumMillis
        if histogram.count >= other.histogram.count {
            for i in other.histogram.indices { histogram[i] += other.histogram[i] }
        } else {
            histogram = LatencyHistogram.add(histogram, other.histogram)
        }
    }
}

/// One row for ops.api_minutes: the minute as Unix seconds (a multiple of 60).
public struct MinuteRow: Equatable, Sendable {
    public var minute: Int64
    public var group: String
    public var counts: MinuteCounts
    public init(minute: Int64, group: String, counts: MinuteCounts) {
        self.minute = minute
        self.group = group
        self.counts = counts
    }
}

/// Folds access-log lines into per-(minute, route group) counts between two flushes. Lines
/// that do not parse are counted in `badLines` and otherwise ignored: a torn or foreign line
/// never stops the tail. The number of groups is fixed by the grouper, so the aggregate
/// holds at most (minutes spanned × groups) rows whatever the requests were.
public struct MinuteAggregator {
    public let grouper: RouteGrouper
    public private(set) var lines: Int64 = 0
    public private(set) var badLines: Int64 = 0
    /// The first bad line since the last reset (at most 300 bytes), for the log.
    public private(set) var firstBadLine: String?

    private var index: [Int64: Int] = [:]
    private var keys: [(minute: Int64, group: Int)] = []
    private var counts: [MinuteCounts] = []
    private var cache = PathCache()

    public init(grouper: RouteGrouper) { self.grouper = grouper }

    public var isEmpty: Bool { lines == 0 && badLines == 0 }

    /// Parses and counts one line (without its newline); false when it was a bad line.
    @discardableResult
    public mutating func add(line: UnsafeRawBufferPointer) -> Bool {
        var line = line
        if let last = line.last, last == 0x0D { line = UnsafeRawBufferPointer(rebasing: line.dropLast()) }
        guard let entry = AccessLogParser.parse(line) else {
            badLines += 1
            if firstBadLine == nil {
                firstBadLine = String(decoding: line.prefix(300), as: UTF8.self)
            }
            return false
        }
        let group: Int
        if entry.uriEscaped {
            let raw = AccessLogParser.unescape(UnsafeRawBufferPointer(rebasing: line[entry.uri]))
            group = raw.withUnsafeBytes { groupOf(path: RouteGrouper.pathPart(of: $0)) }
        } else {
            group = groupOf(path: RouteGrouper.pathPart(of: UnsafeRawBufferPointer(rebasing: line[entry.uri])))
        }
        count(minute: Int64((entry.epochSeconds / 60).rounded(.down)) * 60, group: group,
              status: entry.status, latencyMillis: entry.requestTimeSeconds * 1000)
        lines += 1
        return true
    }

    @discardableResult
    public mutating func add(line: String) -> Bool {
        Array(line.utf8).withUnsafeBytes { add(line: $0) }
    }

    /// Counts a line that was not newline-terminated and could not be parsed as a bad line
    /// (the torn end of a rotated file).
    public mutating func countBadLine(_ sample: String) {
        badLines += 1
        if firstBadLine == nil { firstBadLine = String(sample.prefix(300)) }
    }

    private mutating func groupOf(path: UnsafeRawBufferPointer) -> Int {
        if let g = cache.lookup(path) { return g }
        let g = grouper.group(path: path)
        cache.store(path, g)
        return g
    }

    private mutating func count(minute: Int64, group: Int, status: Int, latencyMillis: Double) {
        let key = (minute / 60) << 16 | Int64(group)
        if let at = index[key] {
            counts[at].count(status: status, latencyMillis: latencyMillis)
        } else {
            index[key] = counts.count
            keys.append((minute, group))
            var c = MinuteCounts()
            c.count(status: status, latencyMillis: latencyMillis)
            counts.append(c)
        }
    }

    /// The counted rows, oldest minute first, then by group name.
    public var rows: [MinuteRow] {
        zip(keys, counts).map { MinuteRow(minute: $0.0.minute, group: grouper.groups[$0.0.group], counts: $0.1) }
            .sorted { ($0.minute, $0.group) < ($1.minute, $1.group) }
    }

    /// Forgets everything counted (after a flush committed, or when the cursor was lost).
    public mutating func reset() {
        index.removeAll(keepingCapacity: true)
        keys.removeAll(keepingCapacity: true)
        counts.removeAll(keepingCapacity: true)
        lines = 0
        badLines = 0
        firstBadLine = nil
    }
}

/// Remembers the group of recently seen paths (most logs repeat a few hundred paths), so a
/// line costs one hash instead of a template match. Bounded: emptied when full, so distinct
/// hostile paths cost only the match they would have cost anyway.
struct PathCache {
    static let capacity = 4096
    private var entries: [UInt64: (path: [UInt8], group: Int)] = [:]

    static func hash(_ p: UnsafeRawBufferPointer) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325 // FNV-1a
        for b in p { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        return h
    }

    func lookup(_ p: UnsafeRawBufferPointer) -> Int? {
        guard let e = entries[Self.hash(p)], e.path.count == p.count, e.path.elementsEqual(p) else { return nil }
        return e.group
    }

    mutating func store(_ p: UnsafeRawBufferPointer, _ group: Int) {
        if entries.count >= Self.capacity { entries.removeAll(keepingCapacity: true) }
        entries[Self.hash(p)] = (Array(p), group)
    }
}

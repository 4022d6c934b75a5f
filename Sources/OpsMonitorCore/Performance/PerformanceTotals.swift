/// The sums a performance answer is made of, filled row by row: one `MinuteCounts` per
/// series bucket (API groups only: every group but "static") and one per route group. Rows
/// outside the window are ignored; minute rows fall into their hour for 24h/7d.
///
/// The API reads up to ~11,000 (minute, group) rows for 6h; `addPacked` folds Postgres' text
/// of them (`PackedRows`) straight into these sums, without a String or an array per row.
public struct PerformanceTotals: Sendable {
    public let range: PerformanceRange
    public let first: Int64
    public private(set) var series: [MinuteCounts]
    public private(set) var groupNames: [String] = []
    public private(set) var groupCounts: [MinuteCounts] = []
    /// Packed lines that could not be read (never expected: a warning in the answer).
    public private(set) var unreadableRows = 0
    private var groupIndex: [String: Int] = [:]
    private var cache = PathCache()

    public init(range: PerformanceRange, now: Double) {
        self.range = range
        first = range.firstBucket(now: now)
        series = Array(repeating: MinuteCounts(), count: range.bucketCount)
    }

    /// API requests of the window: the sum of the series.
    public var total: MinuteCounts {
        var t = MinuteCounts()
        for c in series { t.add(c) }
        return t
    }

    public var staticRequests: Int64 { groupIndex["static"].map { groupCounts[$0].requests } ?? 0 }

    /// The series slot of a bucket, nil outside the window.
    func slot(_ bucket: Int64) -> Int? {
        guard bucket >= first else { return nil }
        let i = Int((bucket - first) / range.stepSeconds)
        return i < series.count ? i : nil
    }

    private mutating func group(_ name: String) -> Int {
        if let g = groupIndex[name] { return g }
        groupIndex[name] = groupNames.count
        groupNames.append(name)
        groupCounts.append(MinuteCounts())
        return groupNames.count - 1
    }

    public mutating func add(_ row: PerformanceRow) {
        guard let s = slot(row.bucket) else { return }
        let g = group(row.group)
        groupCounts[g].add(row.counts)
        if row.group != "static" { series[s].add(row.counts) }
    }

    /// Folds `PackedRows` text in; returns the number of lines that could not be read.
    @discardableResult
    public mutating func addPacked(_ text: String) -> Int {
        var text = text
        return text.withUTF8 { addPacked(UnsafeRawBufferPointer($0)) }
    }

    public mutating func addPacked(_ bytes: UnsafeRawBufferPointer) -> Int {
        var bad = 0
        var start = 0
        while start < bytes.count {
            var end = start
            while end < bytes.count && bytes[end] != 0x0A { end += 1 }
            if end > start && !addPackedLine(UnsafeRawBufferPointer(rebasing: bytes[start..<end])) { bad += 1 }
            start = end + 1
        }
        unreadableRows += bad
        return bad
    }

    /// `bucket|requests|errors|client_errors|auth_failures|latency_sum_ms|{hist}|group`
    private mutating func addPackedLine(_ line: UnsafeRawBufferPointer) -> Bool {
        var fields: [Range<Int>] = []
        fields.reserveCapacity(7)
        var start = 0
        for i in 0..<line.count where fields.count < 7 && line[i] == UInt8(ascii: "|") {
            fields.append(start..<i)
            start = i + 1
        }
        guard fields.count == 7, start < line.count else { return false }
        func int(_ k: Int) -> Int64? { PackedRows.integer(UnsafeRawBufferPointer(rebasing: line[fields[k]])) }
        guard let bucket = int(0), let requests = int(1), let errors = int(2), let clientErrors = int(3),
              let authFailures = int(4), let latency = PackedRows.double(UnsafeRawBufferPointer(rebasing: line[fields[5]]))
        else { return false }
        let histText = UnsafeRawBufferPointer(rebasing: line[fields[6]])
        guard HistogramText.isValid(histText) else { return false }
        guard let s = slot(bucket) else { return true }
        let nameBytes = UnsafeRawBufferPointer(rebasing: line[start...])
        let g: Int
        if let known = cache.lookup(nameBytes) {
            g = known
        } else {
            g = group(String(decoding: nameBytes, as: UTF8.self))
            cache.store(nameBytes, g)
        }
        let isStatic = groupNames[g] == "static"
        groupCounts[g].requests += requests
        groupCounts[g].errors += errors
        groupCounts[g].clientErrors += clientErrors
        groupCounts[g].authFailures += authFailures
        groupCounts[g].latencySumMillis += latency
        if !isStatic {
            series[s].requests += requests
            series[s].errors += errors
            series[s].clientErrors += clientErrors
            series[s].authFailures += authFailures
            series[s].latencySumMillis += latency
        }
        HistogramText.forEach(histText) { i, v in
            groupCounts[g].addBucket(i, v)
            if !isStatic { series[s].addBucket(i, v) }
        }
        return true
    }
}

/// The text the API asks Postgres for: every (bucket, group) row as one line
/// `bucket|requests|errors|client_errors|auth_failures|latency_sum_ms|{hist}|group`, lines
/// joined with newlines (string_agg), so ~11,000 rows arrive as one value. The group comes
/// last, so it may hold `|`; route templates hold no control characters.
public enum PackedRows {
    /// The SQL expression of one line, for a row with the columns of ops.api_minutes
    /// (`bucketSQL` names its time column).
    public static func lineSQL(bucketSQL: String) -> String {
        "concat_ws('|', extract(epoch FROM \(bucketSQL))::bigint, requests, errors, client_errors, auth_failures, "
            + "latency_sum_ms, latency_hist::text, route_group)"
    }

    /// A line for `row`, as Postgres would print it (for tests).
    public static func line(_ row: PerformanceRow) -> String {
        let c = row.counts
        return "\(row.bucket)|\(c.requests)|\(c.errors)|\(c.clientErrors)|\(c.authFailures)|\(c.latencySumMillis)|"
            + "\(HistogramText.format(c.histogram))|\(row.group)"
    }

    static func double(_ b: UnsafeRawBufferPointer) -> Double? {
        var s = AccessLogParser.Scanner(bytes: b)
        guard let v = s.number(), s.atEnd else { return nil }
        return v
    }

    static func integer(_ b: UnsafeRawBufferPointer) -> Int64? {
        guard !b.isEmpty, b.count <= 18 else { return nil }
        var v: Int64 = 0
        var negative = false
        for (k, c) in b.enumerated() {
            if k == 0 && c == UInt8(ascii: "-") && b.count > 1 { negative = true; continue }
            guard c >= 48 && c <= 57 else { return nil }
            v = v * 10 + Int64(c - 48)
        }
        return negative ? -v : v
    }
}

extension MinuteCounts {
    /// Adds `v` to bucket `i`, growing the histogram if it is shorter.
    mutating func addBucket(_ i: Int, _ v: Int64) {
        if i >= histogram.count { histogram.append(contentsOf: repeatElement(0, count: i + 1 - histogram.count)) }
        histogram[i] += v
    }
}

extension HistogramText {
    /// Calls `body(index, count)` for each element of a valid array text (see `isValid`).
    static func forEach(_ bytes: UnsafeRawBufferPointer, _ body: (Int, Int64) -> Void) {
        var index = 0
        var value: Int64 = 0
        var negative = false
        var digits = 0
        for i in 1..<bytes.count {
            let c = bytes[i]
            if c >= 48 && c <= 57 {
                value = value * 10 + Int64(c - 48)
                digits += 1
            } else if c == UInt8(ascii: "-") {
                negative = true
            } else {
                if digits > 0 { body(index, negative ? -value : value) }
                index += 1
                value = 0
                digits = 0
                negative = false
            }
        }
    }

    /// A flat integer array text as `parse` accepts it (checked without building the array).
    static func isValid(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard bytes.count >= 2, bytes.first == UInt8(ascii: "{"), bytes.last == UInt8(ascii: "}") else { return false }
        if bytes.count == 2 { return true }
        var digits = 0
        var negative = false
        for i in 1..<bytes.count {
            let c = bytes[i]
            switch c {
            case 48...57:
                guard digits < 18 else { return false }
                digits += 1
            case UInt8(ascii: "-") where digits == 0 && !negative:
                negative = true
            case UInt8(ascii: ","), UInt8(ascii: "}"):
                guard digits > 0, c == UInt8(ascii: ",") || i == bytes.count - 1 else { return false }
                digits = 0
                negative = false
            default:
                return false
            }
        }
        return true
    }
}

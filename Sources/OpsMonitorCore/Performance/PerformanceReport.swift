import OpsActivity
import OpsJSON

/// Counts of one route group in one bucket (a minute, or an hour from ops.api_rollups).
public struct PerformanceRow: Sendable {
    public var bucket: Int64
    public var group: String
    public var counts: MinuteCounts
    public init(bucket: Int64, group: String, counts: MinuteCounts) {
        self.bucket = bucket
        self.group = group
        self.counts = counts
    }
}

/// The recent probe history of the API's own health check (the monitor's http service
/// whose target is /api/ops/healthz), from which `uptime_seconds` is read.
public struct APIProbeHistory: Sendable {
    public var service: String
    public var intervalSeconds: Double
    public var lastSampleAt: Double?
    public var lastOK: Bool
    /// The newest failed probe still stored, nil when none failed.
    public var lastFailureAt: Double?
    /// The oldest probe still stored.
    public var firstSampleAt: Double?
    public init(service: String, intervalSeconds: Double, lastSampleAt: Double?, lastOK: Bool,
                lastFailureAt: Double?, firstSampleAt: Double?) {
        self.service = service
        self.intervalSeconds = intervalSeconds
        self.lastSampleAt = lastSampleAt
        self.lastOK = lastOK
        self.lastFailureAt = lastFailureAt
        self.firstSampleAt = firstSampleAt
    }
}

/// What the performance answer is built from (read by OpsAPI's PerformanceRoutes).
public struct PerformanceInputs: Sendable {
    public var range: PerformanceRange
    /// Unix seconds.
    public var now: Double
    /// The window's sums (minute rows summed into hour buckets for 24h/7d).
    public var totals: PerformanceTotals
    /// The access-log tail's last commit (ops.access_log_cursor.updated_at): every line the
    /// log held at that moment is counted. nil when the tail has never run.
    public var lastFlushAt: Double?
    /// The newest minute holding requests (any route group), nil when none.
    public var latestMinute: Int64?
    public var probe: APIProbeHistory?
    public init(range: PerformanceRange, now: Double, totals: PerformanceTotals, lastFlushAt: Double?,
                latestMinute: Int64?, probe: APIProbeHistory?) {
        self.range = range
        self.now = now
        self.totals = totals
        self.lastFlushAt = lastFlushAt
        self.latestMinute = latestMinute
        self.probe = probe
    }

    /// From rows (tests, small reads).
    public init(range: PerformanceRange, now: Double, rows: [PerformanceRow], lastFlushAt: Double?,
                latestMinute: Int64?, probe: APIProbeHistory?) {
        var totals = PerformanceTotals(range: range, now: now)
        for row in rows { totals.add(row) }
        self.init(range: range, now: now, totals: totals, lastFlushAt: lastFlushAt, latestMinute: latestMinute, probe: probe)
    }
}

/// Builds the `/api/monitoring/performance` answer: the seed's PerformanceMetrics
/// (`api_response_time{p50,p95,p99}` in ms, `request_rate` in requests/s, `error_rate` in
/// percent of 5xx, `uptime_seconds`) plus totals, a zero-filled series, the top routes and
/// freshness. Headline figures cover API requests: every route group but "static" (the
/// dashboard's files, served by nginx in microseconds, would hide the API's latency); the
/// static requests are counted apart and listed among the routes.
public enum PerformanceReport {
    public static let topRoutes = 20
    /// The tail commits every few seconds; older than this, the figures are stale.
    public static let staleAfterSeconds = 60.0

    public static func build(_ input: PerformanceInputs) -> JSON {
        let range = input.range
        let step = range.stepSeconds
        let totals = input.totals
        let first = totals.first
        let seriesCounts = totals.series
        let total = totals.total
        let staticRequests = totals.staticRequests
        let byGroup = zip(totals.groupNames, totals.groupCounts).filter { $0.1.requests > 0 }

        let series: [JSON] = seriesCounts.enumerated().map { i, c in
            ["ts": .string(UTCTime(seconds: first + Int64(i) * step).iso8601(fractionDigits: 0)),
             "requests": .int(c.requests), "errors": .int(c.errors),
             "p95": ms(LatencyHistogram.percentile(c.histogram, 95))]
        }
        let routes: [JSON] = byGroup.sorted { a, b in
            a.1.requests != b.1.requests ? a.1.requests > b.1.requests : a.0 < b.0
        }.prefix(topRoutes).map { group, c in
            ["route_group": .string(group), "requests": .int(c.requests), "errors": .int(c.errors),
             "client_errors": .int(c.clientErrors), "error_rate": .double(percent(c.errors, c.requests)),
             "avg_ms": ms(c.requests > 0 ? c.latencySumMillis / Double(c.requests) : nil),
             "p50": ms(LatencyHistogram.percentile(c.histogram, 50)),
             "p95": ms(LatencyHistogram.percentile(c.histogram, 95)),
             "p99": ms(LatencyHistogram.percentile(c.histogram, 99))]
        }

        var warnings: [JSON] = []
        let windowSeconds = max(1, input.now - Double(first))
        if input.lastFlushAt == nil {
            warnings.append("no access-log data yet: the monitor has not read an access log (is access_log configured and the monitor running?)")
        } else if total.requests == 0 {
            warnings.append(.string("no API requests in the last \(range.rawValue)"))
        }
        var freshness: Double?
        if let at = input.lastFlushAt {
            freshness = max(0, input.now - at)
            if freshness! > staleAfterSeconds {
                warnings.append(.string("the access-log tail last reported \(Int(freshness!)) s ago: figures are stale (monitor stopped or standing by?)"))
            }
        }
        if totals.unreadableRows > 0 {
            warnings.append(.string("\(totals.unreadableRows) stored row(s) could not be read and are left out"))
        }
        let (uptime, uptimeWarning) = uptimeSeconds(input.probe, now: input.now)
        if let uptimeWarning { warnings.append(.string(uptimeWarning)) }

        return [
            "range": .string(range.rawValue),
            "step_s": .int(step),
            "from": .string(UTCTime(seconds: first).iso8601(fractionDigits: 0)),
            "to": .string(UTCTime(micros: Int64(input.now * 1_000_000)).iso8601),
            "api_response_time": ["p50": ms(LatencyHistogram.percentile(total.histogram, 50)),
                                  "p95": ms(LatencyHistogram.percentile(total.histogram, 95)),
                                  "p99": ms(LatencyHistogram.percentile(total.histogram, 99))],
            "avg_response_time_ms": ms(total.requests > 0 ? total.latencySumMillis / Double(total.requests) : nil),
            "request_rate": .double(round(Double(total.requests) / windowSeconds, 4)),
            "error_rate": .double(percent(total.errors, total.requests)),
            "uptime_seconds": uptime.map { .int(Int64($0)) } ?? .null,
            "requests": .int(total.requests),
            "errors": .int(total.errors),
            "client_errors": .int(total.clientErrors),
            "auth_failures": .int(total.authFailures),
            "static_requests": .int(staticRequests),
            "series": .array(series),
            "routes": .array(routes),
            "as_of": input.lastFlushAt.map { .string(UTCTime(micros: Int64($0 * 1_000_000)).iso8601) } ?? .null,
            "freshness_s": freshness.map { .double(round($0, 1)) } ?? .null,
            "latest_minute": input.latestMinute.map { .string(UTCTime(seconds: $0).iso8601(fractionDigits: 0)) } ?? .null,
            "warnings": .array(warnings),
        ]
    }

    /// Seconds the API's health check has passed without interruption: now minus the newest
    /// failed probe, or minus the oldest stored probe when none failed (a lower bound: older
    /// probes were removed by retention); 0 while the latest probe fails. nil, with a
    /// warning, when the monitor has no such probe or it stopped reporting.
    public static func uptimeSeconds(_ probe: APIProbeHistory?, now: Double) -> (Double?, String?) {
        guard let probe, let last = probe.lastSampleAt else {
            return (nil, "uptime_seconds is null: the monitor has no health probe of /api/ops/healthz yet")
        }
        if now - last > max(3 * probe.intervalSeconds, 60) {
            return (nil, "uptime_seconds is null: the API health probe '\(probe.service)' last ran \(Int(now - last)) s ago")
        }
        if !probe.lastOK { return (0, nil) }
        let since = probe.lastFailureAt ?? probe.firstSampleAt ?? last
        return (max(0, now - since), nil)
    }

    static func ms(_ v: Double?) -> JSON { v.map { .double(round($0, 2)) } ?? .null }

    static func percent(_ part: Int64, _ whole: Int64) -> Double {
        whole > 0 ? round(100 * Double(part) / Double(whole), 3) : 0
    }

    static func round(_ v: Double, _ digits: Int) -> Double {
        var p = 1.0
        for _ in 0..<digits { p *= 10 }
        return (v * p).rounded() / p
    }
}

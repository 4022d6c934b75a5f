import Testing
import OpsActivity
import OpsJSON
@testable import OpsLedger

@Suite struct MonitoringStatusTests {
    @Test func theWorstKnownStatusWins() {
        #expect(ServiceHealth.overall([.healthy, .degraded, .healthy]) == .degraded)
        #expect(ServiceHealth.overall([.degraded, .down, .healthy]) == .down)
        #expect(ServiceHealth.overall([.healthy, .healthy]) == .healthy)
    }

    @Test func unknownServicesNeverMakeTheWholeHealthy() {
        #expect(ServiceHealth.overall([ServiceHealth]()) == .unknown, "no service at all is not healthy")
        #expect(ServiceHealth.overall([.unknown, .unknown]) == .unknown)
        #expect(ServiceHealth.overall([.unknown, .down]) == .down)
        #expect(ServiceHealth.overall([.unknown, .healthy]) == .healthy)
    }

    @Test func storedStatusesOutsideTheSchemaReadUnknown() {
        #expect(ServiceHealth(stored: nil) == .unknown)
        #expect(ServiceHealth(stored: "exploded") == .unknown)
        #expect(ServiceHealth(stored: "down") == .down)
    }

    @Test func heartbeatsAreReadByWordAndAge() {
        #expect(HeartbeatHealth.status(pushed: "healthy", ageSeconds: 5) == .healthy)
        #expect(HeartbeatHealth.status(pushed: "OK", ageSeconds: 5) == .healthy)
        #expect(HeartbeatHealth.status(pushed: "degraded", ageSeconds: 5) == .degraded)
        #expect(HeartbeatHealth.status(pushed: "error", ageSeconds: 5) == .down)
        #expect(HeartbeatHealth.status(pushed: "healthy", ageSeconds: 90) == .healthy, "90 s is the last fresh second")
        #expect(HeartbeatHealth.status(pushed: "healthy", ageSeconds: 90.1) == .down, "a stale component is down")
        #expect(HeartbeatHealth.status(pushed: "healthy", ageSeconds: nil) == .down)
    }

    @Test func componentsCombine() {
        #expect(HeartbeatHealth.combined([]) == .unknown)
        #expect(HeartbeatHealth.combined([.healthy, .healthy]) == .healthy)
        #expect(HeartbeatHealth.combined([.down, .down]) == .down)
        #expect(HeartbeatHealth.combined([.healthy, .down]) == .degraded)
        #expect(HeartbeatHealth.combined([.degraded]) == .degraded)
    }

    @Test func rangesAndTheirSources() {
        #expect(MonitoringRange.allCases.map(\.rawValue) == ["1h", "6h", "24h", "7d"])
        #expect(MonitoringRange.d7.seconds == 604_800)
        #expect(!MonitoringRange.h6.usesHourlyRollups)
        #expect(MonitoringRange.h24.usesHourlyRollups)
    }
}

/// The one redaction of probe targets: the monitor stores targets through it and the API shows
/// them through it.
@Suite struct TargetRedactionTests {
    @Test(arguments: [
        ("postgresql://ops:s3cret@127.0.0.1:5432/ops", "postgresql://ops:***@127.0.0.1:5432/ops"),
        ("redis://:hunter2@cache:6379/0", "redis://:***@cache:6379/0"),
        ("redis://tokenonly@cache:6379", "redis://***@cache:6379"),
        ("https://api.example.com/health?token=abc&x=1", "https://api.example.com/health?token=***&x=1"),
        ("https://u:p@h/p?Password=q#frag", "https://u:***@h/p?Password=***#frag"),
        ("http://127.0.0.1:8080/api/ops/healthz", "http://127.0.0.1:8080/api/ops/healthz"),
        ("http://host/path@not-userinfo", "http://host/path@not-userinfo"),
        ("host=db user=ops password=s3cret dbname=ops", "host=db user=ops password=*** dbname=ops"),
        ("host=db password = 'two words' port=5432", "host=db password=*** port=5432"),
        ("127.0.0.1:6379", "127.0.0.1:6379"),
        ("worker", "worker"),
        ("postgresql://ops:s3cr%40t@127.0.0.1:5432/opsplane?sslmode=disable", "postgresql://ops:***@127.0.0.1:5432/opsplane?sslmode=disable"),
        ("postgresql://ops@127.0.0.1/db?password=abc&application_name=x", "postgresql://***@127.0.0.1/db?password=***&application_name=x"),
        ("host=127.0.0.1 port=5432 password='a b\\' c' dbname=x", "host=127.0.0.1 port=5432 password=*** dbname=x"),
        ("https://user:pw@example.com/a@b", "https://user:***@example.com/a@b"),
    ])
    func secretsAreReplaced(_ input: String, _ expected: String) {
        #expect(TargetRedaction.redact(input) == expected)
    }
}

@Suite struct CounterAndArrayTests {
    let t0 = UTCTime(seconds: 1_000)

    @Test func ratePerSecondBetweenSamples() {
        #expect(CounterRate.perSecond(newer: (130, t0.adding(seconds: 15)), older: (100, t0)) == 2)
        #expect(CounterRate.perSecond(newer: (100, t0.adding(seconds: 15)), older: (100, t0)) == 0)
    }

    @Test func aResetCounterCountsFromZero() {
        #expect(CounterRate.perSecond(newer: (30, t0.adding(seconds: 10)), older: (5_000, t0)) == 3)
    }

    @Test func noRateWithoutElapsedTime() {
        #expect(CounterRate.perSecond(newer: (30, t0), older: (10, t0)) == nil)
        #expect(CounterRate.perSecond(newer: (30, t0), older: (10, t0.adding(seconds: 5))) == nil)
    }

    @Test func postgresIntegerArrays() {
        #expect(PGIntArray.parse("{1,2,30}") == [1, 2, 30])
        #expect(PGIntArray.parse("{}") == [])
        #expect(PGIntArray.parse("{4,NULL,5}") == [4, 0, 5])
        #expect(PGIntArray.parse("1,2") == nil)
        #expect(PGIntArray.parse("{1,x}") == nil)
    }

    @Test func percentagesAndUnits() {
        #expect(Rounded.percent(1, of: 3) == 33.33)
        #expect(Rounded.percent(1, of: 0) == nil)
        #expect(Rounded.mb(1_572_864) == 1.5)
        #expect(Rounded.gb(1_073_741_824 * 2.25) == 2.25)
    }
}

@Suite struct CapacityShapeTests {
    @Test func aSampleTakesTheSeedsShape() throws {
        let gib = 1_073_741_824.0
        let disk = try JSON.parse("""
            {"root": {"path": "/", "total_bytes": \(100 * gib), "used_bytes": \(40 * gib), "free_bytes": \(60 * gib), "used_pct": 40.0},
             "directories": [{"name": "postgres", "path": "/pg", "total_bytes": \(100 * gib), "used_bytes": \(40 * gib),
                              "free_bytes": \(60 * gib), "used_pct": 40.0, "size_bytes": \(12.5 * gib)}]}
            """)
        let memory = try JSON.parse(#"{"total_bytes": 8589934592, "available_bytes": 6442450944, "used_bytes": 2147483648, "used_pct": 25.0, "monitor_rss_bytes": 31457280}"#)
        let load = try JSON.parse(#"{"load1": 1.5, "load5": 1.0, "load15": 0.5, "cpus": 2}"#)
        let shaped = MonitoringSystemQueries.capacityShape(disk: disk, memory: memory, load: load)
        #expect(shaped.disk["total_volume_gb"] == .double(100))
        #expect(shaped.disk["used_pct"] == .double(40))
        #expect(shaped.disk["postgres_data_gb"] == .double(12.5))
        #expect(shaped.disk["directories"]?[0]?["filesystem_free_gb"] == .double(60))
        #expect(shaped.memory["total_gb"] == .double(8))
        #expect(shaped.memory["monitor_rss_mb"] == .double(30))
        #expect(shaped.load["load1_per_cpu"] == .double(0.75))
        #expect(shaped.load["cpus"] == .int(2))
    }

    @Test func noSampleReadsZeros() {
        let shaped = MonitoringSystemQueries.capacityShape(disk: .null, memory: .null, load: .null)
        #expect(shaped.disk["total_volume_gb"] == .double(0))
        #expect(shaped.disk["directories"] == .array([]))
        #expect(shaped.memory["used_pct"] == .double(0))
        #expect(shaped.load["load1_per_cpu"] == .double(0))
    }
}

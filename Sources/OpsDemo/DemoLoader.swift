import OpsActivity
import OpsJSON
import OpsLedger
import OpsPostgres
#if canImport(Glibc)
import Glibc
#endif

/// Loads the demo workload through the ingest path: every record is validated by
/// `RecordValidator` and stored by `IngestStore` in batches, exactly as `POST /api/ops/ingest`
/// does, so the demo also exercises the real code.
public struct DemoLoader {
    let db: PGConnection
    let progress: (String) -> Void

    public init(connection: PGConnection, progress: @escaping (String) -> Void) {
        self.db = connection
        self.progress = progress
    }

    public static func now() -> UTCTime { UTCTime.now() }

    /// Validates and stores records in batches of 500; returns how many were stored.
    @discardableResult
    public func ingest(_ records: [JSON]) throws -> Int {
        let validator = RecordValidator(now: Self.now())
        var stored = 0
        var start = 0
        while start < records.count {
            let chunk = records[start..<min(start + 500, records.count)]
            var valid: [IngestRecord] = []
            for r in chunk {
                switch validator.validate(r) {
                case .success(let record): valid.append(record)
                case .failure(let e): progress("demo record refused (\(e.code)): \(e.message)")
                }
            }
            _ = try IngestStore(connection: db).store(valid)
            stored += valid.count
            start += 500
        }
        return stored
    }

    /// Prices of the demo models, valid since 60 days ago (one price changed 10 days ago, to
    /// show the effective dating).
    public func loadPricing(now: UTCTime) throws {
        for m in demoModels {
            guard let p = m.prompt, let c = m.completion else { continue }
            try db.query("""
                INSERT INTO ops.pricing (provider, model, valid_from, usd_per_m_prompt, usd_per_m_completion)
                VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING
                """, [m.provider, m.model, now.startOfDay.adding(seconds: -60 * 86_400).sql, String(p * 1.2), String(c * 1.2)])
            try db.query("""
                INSERT INTO ops.pricing (provider, model, valid_from, usd_per_m_prompt, usd_per_m_completion)
                VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING
                """, [m.provider, m.model, now.startOfDay.adding(seconds: -10 * 86_400).sql, String(p), String(c)])
        }
    }

    /// History: `days` days before today with `runsPerDay` runs each (a daily rhythm: fewer at
    /// night), and today's runs up to now. Returns the number of runs.
    public func loadHistory(workload: inout DemoWorkload, days: Int, runsPerDay: Int) throws -> Int {
        let now = Self.now()
        try loadPricing(now: now)
        let firstDay = now.startOfDay.adding(seconds: -Int64(days) * 86_400)
        try ingest(workload.agents(createdAt: firstDay))
        var runs = 0
        for d in 0...days {
            let day = firstDay.adding(seconds: Int64(d) * 86_400)
            var records: [JSON] = []
            // Today's runs fill the time from midnight until a few minutes ago.
            let span = d == days ? max(now.seconds - day.seconds - 300, 0) : 86_400
            let count = d == days ? Int(Int64(runsPerDay) * span / 86_400) : runsPerDay
            for i in 0..<count {
                // Busier in the (UTC) working day: a second draw pulls starts towards 08–20 h.
                let u = workload.random.unit()
                let fraction = workload.random.unit() < 0.6 && span == 86_400 ? 0.33 + 0.5 * u : u
                let start = day.adding(seconds: Int64(fraction * Double(max(span - 1, 0))))
                records += workload.finishedRun(id: "demo-\(day.dateString)-\(i)", start: start)
                if i % 3 == 0 { records.append(workload.message(id: "msg-\(day.dateString)-\(i)", at: start)) }
                runs += 1
            }
            try ingest(records)
            if d % 5 == 0 || d == days { progress("demo: day \(d + 1)/\(days + 1) (\(day.dateString)), \(runs) runs so far") }
        }
        try ingest(workload.heartbeats(at: now))
        return runs
    }
}

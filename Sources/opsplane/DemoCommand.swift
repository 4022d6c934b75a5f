import ArgumentParser
import OpsActivity
import OpsDemo
import OpsJSON
import OpsPostgres
#if canImport(Glibc)
import Glibc
#endif

struct DemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Load a realistic demo workload, or keep producing live activity with --live.",
        discussion: """
            Records go through the same validation and storage as POST /api/ops/ingest.
            Without --live: agents, pricing, `--days` of history with `--runs-per-day` runs and today's runs so far.
            With --live: runs start and finish, messages and heartbeats arrive, until SIGTERM/SIGINT.
            """)

    @Option(help: "Days of history before today.") var days = 30
    @Option(help: "Runs per day of history.") var runsPerDay = 400
    @Flag(help: "Load nothing when the database already holds runs (make run uses this).") var ifEmpty = false
    @Flag(help: "Keep producing live activity until stopped.") var live = false
    @Option(help: "Live mode: new runs per second.") var rate = 1.0
    @Option(help: "Random seed (the same seed gives the same history).") var seed: UInt64 = 42

    func validate() throws {
        guard (0...365).contains(days) else { throw ValidationError("--days must be 0 to 365") }
        guard (0...1_000_000).contains(runsPerDay) else { throw ValidationError("--runs-per-day must be 0 to 1000000") }
        guard rate > 0 && rate <= 1000 else { throw ValidationError("--rate must be above 0 and at most 1000") }
    }

    func run() throws {
        let config = try loadConfig()
        let connection: PGConnection
        do {
            connection = try PGConnection(url: config.databaseURL, applicationName: "opsplane-demo",
                                          connectTimeoutSeconds: config.dbConnectTimeoutSeconds)
        } catch {
            printError("opsplane demo: database: \(error)")
            throw ExitCode(1)
        }
        let loader = DemoLoader(connection: connection) { print($0); fflush(stdout) }
        var workload = DemoWorkload(seed: seed)
        if live {
            try runLive(loader, &workload)
            return
        }
        if ifEmpty, (try connection.query("SELECT EXISTS (SELECT 1 FROM ops.runs)").bool(0, 0)) == true {
            print("demo: the database already holds runs; nothing loaded (--if-empty)")
            return
        }
        let start = DemoLoader.now()
        let runs = try loader.loadHistory(workload: &workload, days: days, runsPerDay: runsPerDay)
        let seconds = Double(DemoLoader.now().micros - start.micros) / 1e6
        print("demo: loaded \(workload.agentCount) agents and \(runs) runs in \(Int(seconds * 10) / 10) s")
    }

    /// New runs start (`run_started`) and finish a few seconds later (`run_success` /
    /// `run_failed`); messages and heartbeats arrive along the way.
    func runLive(_ loader: DemoLoader, _ workload: inout DemoWorkload) throws {
        var signals = sigset_t()
        sigemptyset(&signals)
        sigaddset(&signals, SIGTERM)
        sigaddset(&signals, SIGINT)
        pthread_sigmask(SIG_BLOCK, &signals, nil)
        print("demo: live activity at \(rate) runs/s; stop with SIGTERM or Ctrl-C")
        fflush(stdout)
        var pending: [(finishAt: UTCTime, record: JSON)] = []
        var counter = 0
        var lastBeat = UTCTime(micros: 0)
        let tickMicros = Int64(1_000_000 / rate)
        let prefix = "live-\(DemoLoader.now().seconds)"
        while true {
            var timeout = timespec(tv_sec: Int(tickMicros / 1_000_000), tv_nsec: Int(tickMicros % 1_000_000) * 1000)
            if sigtimedwait(&signals, nil, &timeout) > 0 { break }
            let now = DemoLoader.now()
            var batch: [JSON] = []
            counter += 1
            // The finished form is generated now; the run is first sent as `running`.
            var finished = workload.finishedRun(id: "\(prefix)-\(counter)", start: now)
            if case .object(var run) = finished[0] {
                let liveMs = Int64(workload.random.int(1_500...15_000))
                run["duration_ms"] = .int(liveMs)
                run["finished_at"] = .string(now.adding(seconds: liveMs / 1000).iso8601)
                pending.append((now.adding(seconds: liveMs / 1000), .object(run)))
                var started = run
                started["status"] = "running"
                for k in ["finished_at", "duration_ms", "cost_usd", "error"] { started[k] = nil }
                batch.append(.object(started))
                finished.removeFirst()
                batch += finished
            }
            let due = pending.filter { $0.finishAt <= now }
            pending.removeAll { $0.finishAt <= now }
            batch += due.map(\.record)
            if workload.random.unit() < 0.5 { batch.append(workload.message(id: "\(prefix)-m\(counter)", at: now)) }
            if now.micros - lastBeat.micros >= 10_000_000 {
                batch += workload.heartbeats(at: now)
                lastBeat = now
            }
            do {
                try loader.ingest(batch)
            } catch {
                // Postgres restarting: keep going, the next tick retries with new records.
                printError("demo: ingest failed: \(error)")
                sleep(1)
            }
        }
        print("demo: stopped")
    }
}

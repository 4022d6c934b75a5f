import Foundation
import OpsJSON
import OpsLog
import OpsMonitorCore

/// Runs every configured probe on its own interval. One dispatcher (this component's thread)
/// hands due checks to a fixed pool of probe threads; a check that finishes puts its service
/// back into the due queue at its next slot (ProbeSchedule.next), so one service never has
/// two checks at once and a slow target only holds its own thread. How late each check starts
/// against its slot is measured (ProbeLatenessStats): logged every minute and written every
/// 10 s to ops.monitor_state 'scheduler' (and 'scheduler:<OPS_MONITOR_LOCK>'). Results go to the HealthWriter. Probes run only
/// while this monitor holds the lock; on losing it the queue is dropped and the pool idles.
final class ProbeScheduler: MonitorComponent {
    let name = "probes"
    static let stateWriteSeconds = 10.0
    static let logSeconds = 60.0

    private let context: MonitorContext
    private let states: [ProbeServiceState]
    private let runner: ProbeRunner
    private let writer: HealthWriter
    private let registry: ServiceRegistry
    let threadCount: Int

    private struct Job { var service: Int; var scheduled: Double; var generation: Int }

    // Guarded by `cond`.
    private let cond = NSCondition()
    private var queue = ProbeDueQueue()
    private var jobs: [Job] = []
    private var jobsHead = 0
    private var generation = 0
    private var lateness = ProbeLatenessStats()
    private var poolStopping = false
    private var poolExited = 0
    private var running = 0

    init(context: MonitorContext) {
        self.context = context
        states = context.monitorConfig.services.map { ProbeServiceState(config: $0) }
        runner = ProbeRunner(context: context)
        writer = HealthWriter(context: context)
        registry = ServiceRegistry(context: context)
        threadCount = ProbeSchedule.poolSize(services: states.count)
    }

    func run(_ context: MonitorContext) {
        guard !states.isEmpty else {
            context.logger.info("no services configured: nothing to probe")
            return
        }
        writer.start()
        for i in 0..<threadCount {
            let t = Thread { [self] in probeLoop() }
            t.name = "monitor-probe-\(i)"
            t.stackSize = 1 << 20
            t.start()
        }
        while !context.isStopping {
            guard context.isActive else { context.sleep(0.5); continue }
            guard registry.activate(states) else { context.sleep(2); continue }
            dispatch()
            standDown()
        }
        stopPool()
        writer.stop()
    }

    /// Hands out due checks until this monitor stops being active.
    private func dispatch() {
        let activatedAt = ProbeClock.now()
        var nextState = activatedAt + 2, nextLog = activatedAt + Self.logSeconds, nextSweep = activatedAt + ServiceRegistry.sweepSeconds
        cond.lock()
        generation += 1
        lateness = ProbeLatenessStats()
        queue.removeAll()
        for (i, s) in states.enumerated() {
            queue.insert(.init(due: activatedAt + ProbeSchedule.startOffset(name: s.config.name, interval: s.config.intervalSeconds), service: i))
        }
        cond.unlock()
        context.logger.info("probe scheduler active", [("services", .int(Int64(states.count))), ("threads", .int(Int64(threadCount)))])
        let since = Date()
        while context.isActive {
            let now = ProbeClock.now()
            cond.lock()
            var handed = false
            while let first = queue.first, first.due <= now {
                _ = queue.popFirst()
                jobs.append(Job(service: first.service, scheduled: first.due, generation: generation))
                handed = true
            }
            if handed { cond.broadcast() }
            let wake = min(queue.first?.due ?? now + 0.5, now + 0.5)
            if wake > now { cond.wait(until: Date(timeIntervalSinceNow: wake - now)) }
            cond.unlock()

            if now >= nextState {
                nextState = now + Self.stateWriteSeconds
                let logIt = now >= nextLog
                if logIt { nextLog = now + Self.logSeconds }
                publishState(since: since, rollMinute: logIt)
            }
            if now >= nextSweep {
                nextSweep = now + ServiceRegistry.sweepSeconds
                registry.sweep(states)
            }
        }
    }

    /// Forgets the schedule after the lock was lost: checks in flight finish, their services
    /// are not rescheduled (their generation is stale).
    private func standDown() {
        cond.lock()
        generation += 1
        queue.removeAll()
        jobs.removeAll()
        jobsHead = 0
        cond.unlock()
        context.logger.info("probe scheduler standing by")
    }

    private func probeLoop() {
        while true {
            cond.lock()
            while jobsHead >= jobs.count && !poolStopping { cond.wait() }
            if poolStopping {
                poolExited += 1
                cond.broadcast()
                cond.unlock()
                return
            }
            let job = jobs[jobsHead]
            jobsHead += 1
            if jobsHead > 1024 && jobsHead * 2 > jobs.count { jobs.removeFirst(jobsHead); jobsHead = 0 }
            let started = ProbeClock.now()
            lateness.record(latenessMillis: (started - job.scheduled) * 1000)
            running += 1
            cond.unlock()

            let state = states[job.service]
            let wall = ProbeClock.wall()
            let result = runner.run(state.config)
            let record = state.apply(result, at: wall)
            writer.enqueue(record)

            cond.lock()
            running -= 1
            if job.generation == generation {
                let next = ProbeSchedule.next(after: job.scheduled, interval: state.config.intervalSeconds, now: ProbeClock.now())
                if next.skipped > 0 { lateness.recordSkipped(next.skipped) }
                queue.insert(.init(due: next.due, service: job.service))
                cond.broadcast()
            }
            cond.unlock()
        }
    }

    private func stopPool() {
        cond.lock()
        poolStopping = true
        cond.broadcast()
        let deadline = Date(timeIntervalSinceNow: 5)
        while poolExited < threadCount { if !cond.wait(until: deadline) { break } }
        cond.unlock()
    }

    /// The scheduler's figures: ops.monitor_state 'scheduler' every 10 s, a log line a minute.
    private func publishState(since: Date, rollMinute: Bool) {
        cond.lock()
        if rollMinute { lateness.rollMinute() }
        let stats = lateness
        let inFlight = running, waiting = jobs.count - jobsHead
        cond.unlock()
        func ms(_ v: Double?) -> JSON { v.map { .double(($0 * 100).rounded() / 100) } ?? .null }
        let minuteChecks = stats.lastMinute.reduce(0, +)
        let value: JSON = .object(JSONObject([
            ("instance", .string(context.instance)),
            ("services", .int(Int64(states.count))),
            ("threads", .int(Int64(threadCount))),
            ("active_since", .string(ISO8601DateFormatter().string(from: since))),
            ("checks", .int(stats.totalChecks)),
            ("skipped_slots", .int(stats.totalSkipped)),
            ("in_flight", .int(Int64(inFlight))),
            ("waiting", .int(Int64(waiting))),
            ("late_p50_ms", ms(stats.percentile(50))),
            ("late_p99_ms", ms(stats.percentile(99))),
            ("late_max_ms", ms(stats.totalChecks > 0 ? stats.maxMillis : nil)),
            ("last_minute", .object(JSONObject([
                ("checks", .int(minuteChecks)),
                ("late_p50_ms", ms(stats.percentile(50, lastMinuteOnly: true))),
                ("late_p99_ms", ms(stats.percentile(99, lastMinuteOnly: true))),
            ]))),
        ]))
        // `scheduler`: the active monitor's figures. `scheduler:<lock>`: the same per lock name,
        // for when monitors with different locks share a database (the bench, tests).
        writer.setState("scheduler", value)
        writer.setState("scheduler:\(context.config.monitorLockName)", value)
        if rollMinute {
            context.logger.info("probe scheduler", [
                ("checks_last_minute", .int(minuteChecks)), ("late_p50_ms", ms(stats.percentile(50, lastMinuteOnly: true))),
                ("late_p99_ms", ms(stats.percentile(99, lastMinuteOnly: true))), ("skipped_slots", .int(stats.totalSkipped)),
                ("in_flight", .int(Int64(inFlight))), ("waiting", .int(Int64(waiting)))])
        }
    }
}

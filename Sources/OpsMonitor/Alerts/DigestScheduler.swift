import OpsActivity
import OpsMonitorCore
import OpsPostgres

/// Queues the daily digest on DISCORD_DAILY_DIGEST_CRON (UTC): at each fire time, the
/// previous UTC day's report goes into the outbox under the dedupe key
/// `digest:YYYY-MM-DD:<webhook hash prefix>`, so two monitors, a restart or a schedule
/// that fires more than once a day still send one digest per day and webhook. A fire time
/// missed earlier today (the monitor was down or standing by) is caught up at once.
final class DigestScheduler: MonitorComponent {
    let name = "digest"

    func run(_ context: MonitorContext) {
        guard let target = DiscordTarget(context.config) else {
            while !context.isStopping { context.sleep(3600) }
            return
        }
        let schedule: CronSchedule
        do { schedule = try CronSchedule(context.config.discordDigestCron) } catch {
            context.logger.error("DISCORD_DAILY_DIGEST_CRON is not valid: no daily digest", [("error", .string("\(error)"))])
            while !context.isStopping { context.sleep(3600) }
            return
        }
        let db = context.makeDatabase(name)
        // Fire times since the start of today (UTC) that have not been handled.
        var handledUpTo = UTCTime.now().startOfDay.seconds - 1
        while !context.isStopping {
            let now = UTCTime.now().seconds
            // Only the active monitor moves on: a standby that takes over later today still
            // catches up a fire time it saw pass (the dedupe key keeps the digest single).
            // Activation is polled every second, so a takeover acts at once.
            guard context.isActive else { context.sleep(1); continue }
            do {
                var due: Int64? = nil
                var t = handledUpTo
                while let f = schedule.next(after: t), f <= now { due = f; t = f }
                if let due { try enqueue(db, target, fireTime: due, context) }
                handledUpTo = t
            } catch {
                context.logger.warn("daily digest not queued; retrying", [("error", .string("\(error)"))])
                context.sleep(10)
                continue
            }
            let next = schedule.next(after: now).map { Double($0 - now) } ?? 3600
            context.sleep(min(max(next, 1), 30))
        }
        db.close()
    }

    func enqueue(_ db: DatabaseSession, _ target: DiscordTarget, fireTime: Int64, _ context: MonitorContext) throws {
        let day = UTCTime(seconds: fireTime).startOfDay.adding(seconds: -86_400)
        let key = "digest:\(day.dateString):\(target.webhook.prefix(12))"
        let queued = try db.run { c -> Bool in
            if try c.query("SELECT 1 FROM ops.notification_outbox WHERE dedupe_key = $1", [key]).rowCount > 0 {
                context.logger.debug("daily digest already queued", [("day", .string(day.dateString))])
                return false
            }
            let report = try DigestQueries(db: c).report(day: day)
            let r = try c.query("""
                INSERT INTO ops.notification_outbox (webhook, kind, dedupe_key, payload) VALUES ($1, 'digest', $2, $3::jsonb)
                ON CONFLICT (dedupe_key) DO NOTHING
                """, [target.webhook, key, report.json.serialized()])
            return r.affectedRows == 1
        }
        if queued { context.logger.info("daily digest queued", [("day", .string(day.dateString))]) }
    }
}

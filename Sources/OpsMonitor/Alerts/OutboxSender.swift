import Foundation
import OpsCurl
import OpsJSON
import OpsMonitorCore
import OpsPostgres

/// Delivers ops.notification_outbox rows to the Discord webhook, one request at a time:
///
/// 1. waits while the webhook is rate-limited (ops.webhook_limits.blocked_until, shared by
///    every monitor);
/// 2. claims due rows atomically (`FOR UPDATE SKIP LOCKED`, a lease of `claim_s`), so two
///    monitors never hold the same row;
/// 3. coalesces them into one message (up to 10 alert embeds; a digest alone) and hands the
///    rows that did not fit back at once (one request per claim: a claim never outlives its
///    request);
/// 4. POSTs it; on 2xx marks the rows sent — `WHERE claimed_by = me AND sent_at IS NULL`, so
///    exactly once — and records X-RateLimit-Remaining/Reset-After; on 429 blocks the
///    webhook for `retry_after` (body, else the headers) and retries the rows no earlier;
///    on 5xx, other errors and timeouts retries with exponential backoff and jitter, forever.
final class OutboxSender: MonitorComponent {
    let name = "notifications"
    /// Rows claimed at once: one message of alerts at most.
    static let claimBatch = DiscordLimits.embedsPerMessage
    /// Added to every wait Discord asks for, so a request never lands a hair too early.
    static let safetySeconds = 0.05

    func run(_ context: MonitorContext) {
        guard let target = DiscordTarget(context.config) else {
            context.logger.info("discord notifications off (DISCORD_ENABLE_ALERTS and DISCORD_WEBHOOK_URL)")
            while !context.isStopping { context.sleep(3600) }
            return
        }
        let db = context.makeDatabase(name)
        let delivery = context.monitorConfig.alerts.delivery
        let backoff = DeliveryBackoff(baseSeconds: 2, capSeconds: delivery.maxBackoffSeconds)
        while !context.isStopping {
            guard context.isActive else { context.sleep(1); continue }
            do {
                if try !cycle(context, db, target, delivery, backoff) { context.sleep(1) }
            } catch {
                context.logger.warn("notification delivery failed", [("error", .string("\(error)"))])
                context.sleep(2)
            }
        }
        // Rows still claimed (a request cut short by shutdown) go back at once.
        _ = try? db.run { c in
            try c.query("UPDATE ops.notification_outbox SET claimed_by = NULL, claim_until = NULL WHERE claimed_by = $1 AND sent_at IS NULL",
                        [context.instance])
        }
        db.close()
    }

    struct Claimed { let id: Int64; let kind: String; let payload: JSON; let attempts: Int64 }

    /// One claim and at most one request; false when there was nothing to do.
    func cycle(_ context: MonitorContext, _ db: DatabaseSession, _ target: DiscordTarget, _ delivery: DeliveryConfig,
               _ backoff: DeliveryBackoff) throws -> Bool {
        let wait = try db.run { c in
            try c.query("SELECT extract(epoch FROM blocked_until - now()) FROM ops.webhook_limits WHERE webhook = $1 AND blocked_until > now()",
                        [target.webhook]).double(0, 0)
        }
        if let wait, wait > 0 {
            context.sleep(min(wait, 1))
            return true
        }
        let rows = try db.run { c -> [Claimed] in
            let r = try c.query("""
                UPDATE ops.notification_outbox SET claimed_by = $2, claim_until = now() + make_interval(secs => $3::double precision)
                WHERE id IN (SELECT id FROM ops.notification_outbox
                             WHERE webhook = $1 AND sent_at IS NULL AND next_attempt_at <= now()
                               AND (claim_until IS NULL OR claim_until < now())
                             ORDER BY id FOR UPDATE SKIP LOCKED LIMIT $4)
                RETURNING id, kind, payload::text, attempts
                """, [target.webhook, context.instance, String(delivery.claimSeconds), String(Self.claimBatch)])
            return (0..<r.rowCount).map { i in
                Claimed(id: r.int(i, 0) ?? 0, kind: r.string(i, 1) ?? "", payload: r.string(i, 2).flatMap { try? JSON.parse($0) } ?? [:],
                        attempts: r.int(i, 3) ?? 0)
            }.sorted { $0.id < $1.id }
        }
        guard !rows.isEmpty else { return false }
        let message = Self.firstMessage(rows, dashboardURL: context.config.dashboardURL)
        let unsent = rows.map(\.id).filter { !message.rowIDs.contains($0) }
        if !unsent.isEmpty { try release(db, unsent, context) }
        guard context.isActive else { try release(db, message.rowIDs, context); return true }

        let exchange = HTTPClient.perform(method: "POST", url: target.url, headers: ["Content-Type: application/json"],
                                          body: message.body.serializedBytes(), timeoutMillis: delivery.timeoutMillis)
        let attempts = rows.filter { message.rowIDs.contains($0.id) }.map(\.attempts).max() ?? 0
        try record(exchange, message, attempts: attempts, db, target, backoff, context)
        return true
    }

    /// The first request's worth of the claimed rows: a digest alone, else the leading
    /// alert changes coalesced.
    static func firstMessage(_ rows: [Claimed], dashboardURL: String) -> DiscordMessage {
        let first = rows[0]
        if let report = DigestReport(json: first.payload) {
            return DigestMessage.message(report, outboxID: first.id, dashboardURL: dashboardURL)
        }
        var alerts: [AlertNotification] = []
        for row in rows {
            guard let n = AlertNotification.parse(outboxID: row.id, payload: row.payload) else { break }
            alerts.append(n)
        }
        if let message = AlertNotification.coalesce(alerts, dashboardURL: dashboardURL).first { return message }
        // Anything else (a test message): its `content`, as plain text.
        let text = first.payload["content"]?.stringValue ?? "Opsplane notification \(first.id) (\(first.kind))"
        return DiscordMessage(rowIDs: [first.id], content: text, embeds: [])
    }

    func release(_ db: DatabaseSession, _ ids: [Int64], _ context: MonitorContext) throws {
        _ = try db.run { c in
            try c.query("""
                UPDATE ops.notification_outbox SET claimed_by = NULL, claim_until = NULL
                WHERE id = ANY($1::bigint[]) AND claimed_by = $2 AND sent_at IS NULL
                """, [Self.idArray(ids), context.instance])
        }
    }

    func record(_ x: HTTPExchange, _ message: DiscordMessage, attempts: Int64, _ db: DatabaseSession, _ target: DiscordTarget,
                _ backoff: DeliveryBackoff, _ context: MonitorContext) throws {
        let ids = Self.idArray(message.rowIDs)
        let limits = RateLimitHeaders(x)
        if x.error == nil, (200..<300).contains(x.status) {
            let marked = try db.run { c -> Int in
                let r = try c.query("""
                    UPDATE ops.notification_outbox SET sent_at = now(), last_status = $3, attempts = attempts + 1, last_error = NULL,
                        claim_until = NULL
                    WHERE id = ANY($1::bigint[]) AND claimed_by = $2 AND sent_at IS NULL
                    """, [ids, context.instance, String(x.status)])
                if let remaining = limits.remaining {
                    // Out of requests for this window: nobody sends before it resets.
                    let blocked = remaining <= 0 ? (limits.resetAfter ?? 1) + Self.safetySeconds : nil
                    try Self.saveLimits(c, target.webhook, blockedFor: blocked, remaining: remaining, resetAfter: limits.resetAfter)
                }
                return r.affectedRows
            }
            if marked != message.rowIDs.count {
                context.logger.warn("notification sent but its claim had passed to another monitor",
                                    [("rows", .int(Int64(message.rowIDs.count))), ("marked", .int(Int64(marked)))])
            }
            context.logger.info("notification sent", [("rows", .int(Int64(message.rowIDs.count))), ("status", .int(Int64(x.status))),
                                                     ("embeds", .int(Int64(message.embeds.count)))])
            return
        }
        let retryIn: Double
        let error: String
        if x.error == nil && x.status == 429 {
            let wait = (limits.retryAfter ?? limits.resetAfter ?? 1) + Self.safetySeconds
            retryIn = wait
            error = "rate limited: retry after \(wait) s\(limits.global ? " (global)" : "")"
            try db.run { c in try Self.saveLimits(c, target.webhook, blockedFor: wait, remaining: 0, resetAfter: limits.resetAfter) }
        } else {
            retryIn = backoff.delay(afterFailures: Int(attempts) + 1, unit: Double.random(in: 0..<1))
            error = x.error.map { x.timedOut ? "timeout: \($0)" : $0 } ?? "HTTP \(x.status): \(String(x.bodyText.prefix(300)))"
        }
        try db.run { c in
            try c.query("""
                UPDATE ops.notification_outbox SET attempts = attempts + 1, last_status = $3, last_error = $4,
                    next_attempt_at = now() + make_interval(secs => $5::double precision), claimed_by = NULL, claim_until = NULL
                WHERE id = ANY($1::bigint[]) AND claimed_by = $2 AND sent_at IS NULL
                """, [ids, context.instance, x.status > 0 ? String(x.status) : nil, error, String(retryIn)])
            if x.status != 429 {
                try c.query("INSERT INTO ops.system_errors (service, type, message) VALUES ('discord', 'notification_delivery', $1)",
                            ["\(message.rowIDs.count) notification(s), attempt \(attempts + 1): \(error)"])
            }
        }
        context.logger.warn("notification not delivered; will retry", [("rows", .int(Int64(message.rowIDs.count))),
                                                                       ("status", .int(Int64(x.status))), ("error", .string(error)),
                                                                       ("retry_in_s", .double(retryIn))])
    }

    static func saveLimits(_ c: PGConnection, _ webhook: String, blockedFor: Double?, remaining: Int64?, resetAfter: Double?) throws {
        try c.query("""
            INSERT INTO ops.webhook_limits (webhook, blocked_until, remaining, reset_at, updated_at)
            VALUES ($1, now() + make_interval(secs => $2::double precision), $3, now() + make_interval(secs => $4::double precision), now())
            ON CONFLICT (webhook) DO UPDATE SET
                blocked_until = CASE WHEN $2::double precision IS NULL THEN ops.webhook_limits.blocked_until
                                     ELSE greatest(coalesce(ops.webhook_limits.blocked_until, now()), EXCLUDED.blocked_until) END,
                remaining = EXCLUDED.remaining, reset_at = EXCLUDED.reset_at, updated_at = now()
            """, [webhook, blockedFor.map { String($0) }, remaining.map(String.init), resetAfter.map { String($0) }])
    }

    static func idArray(_ ids: [Int64]) -> String { "{" + ids.map(String.init).joined(separator: ",") + "}" }
}

/// Discord's rate-limit answer: `retry_after` from a 429's JSON body (seconds, a float) or its
/// Retry-After header, and the X-RateLimit-Remaining / X-RateLimit-Reset-After headers.
struct RateLimitHeaders {
    var retryAfter: Double?
    var remaining: Int64?
    var resetAfter: Double?
    var global = false

    init(_ x: HTTPExchange) {
        if x.status == 429, let body = try? JSON.parse(x.body) {
            retryAfter = body["retry_after"]?.doubleValue
            global = body["global"]?.boolValue ?? false
        }
        if retryAfter == nil, let h = x.header("retry-after") { retryAfter = Double(h.trimmingCharacters(in: .whitespaces)) }
        remaining = x.header("x-ratelimit-remaining").flatMap { Int64($0.trimmingCharacters(in: .whitespaces)) }
        resetAfter = x.header("x-ratelimit-reset-after").flatMap { Double($0.trimmingCharacters(in: .whitespaces)) }
        if x.header("x-ratelimit-global") != nil { global = true }
        // A nonsensical value must not stall deliveries for hours or make them spin.
        retryAfter = retryAfter.map { min(max($0, 0), 3600) }
        resetAfter = resetAfter.map { min(max($0, 0), 3600) }
    }
}

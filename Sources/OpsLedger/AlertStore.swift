import OpsActivity
import OpsJSON
import OpsPostgres

/// Where alert notifications go: the webhook's identity in the outbox (the SHA-256 of its URL;
/// the URL holds a secret and never enters the database). nil notifier = notifications off.
public struct AlertNotifier: Sendable, Equatable {
    public let webhook: String
    public init(webhook: String) { self.webhook = webhook }
}

/// One alert to raise: the rule, its dedupe key (`rule:subject`), and what it measured.
public struct AlertFiring: Sendable {
    public var rule: String
    public var severity: String
    public var dedupeKey: String
    public var title: String
    public var detail: JSON
    public var service: String?
    public var value: Double?
    public var threshold: Double?

    public init(rule: String, severity: String, dedupeKey: String, title: String, detail: JSON = [:],
                service: String? = nil, value: Double? = nil, threshold: Double? = nil) {
        self.rule = rule
        self.severity = severity
        self.dedupeKey = dedupeKey
        self.title = title
        self.detail = detail
        self.service = service
        self.value = value
        self.threshold = threshold
    }
}

/// Alerts, their history, ticker events and notifications, each change in one transaction.
///
/// Firing a dedupe key:
/// - an open (firing or acknowledged) alert with the key is counted again (fire_count,
///   last_fired_at): de-bounced, no event, no notification, unless its severity rises
///   (escalated) or it last fired over 10 minutes ago (a reminder, 'refired');
/// - else a resolved alert with the key that resolved less than 10 minutes ago is re-opened
///   with the same id ('refired'; its acknowledgement ended when it resolved);
/// - else a new alert ('fired').
/// Every fired/refired/escalated/resolved change writes an alert_history row, appends a
/// ticker event (alert_fired / alert_resolved) and — when a notifier is given and no
/// unexpired silence matches the rule or service — an ops.notification_outbox row. A
/// resolution is announced only when the alert's firing was.
public struct AlertStore {
    public static let debounceSeconds = 600
    let db: PGConnection

    public init(connection: PGConnection) { self.db = connection }

    public enum Change: String, Sendable {
        case created = "fired", reopened = "refired", reminded = "reminded", escalated = "escalated", debounced = "debounced"
        /// The word in alert_history.event.
        var historyEvent: String? {
            switch self {
            case .created: return "fired"
            case .reopened, .reminded, .escalated: return "refired"
            case .debounced: return nil
            }
        }
        /// The outbox payload's `event`.
        var notificationEvent: String {
            switch self {
            case .created: return "fired"
            case .escalated: return "escalated"
            default: return "refired"
            }
        }
    }

    public struct FireResult: Sendable {
        public let id: Int64
        public let change: Change
        /// Whether a notification was queued.
        public let notified: Bool
        public var isNew: Bool { change == .created }
    }

    /// The budget check route's call (kept for it): no service, value or notification.
    @discardableResult
    public func fire(rule: String, severity: String, dedupeKey: String, title: String, detail: JSON) throws -> (id: Int64, isNew: Bool) {
        let r = try fire(AlertFiring(rule: rule, severity: severity, dedupeKey: dedupeKey, title: title, detail: detail), notifier: nil)
        return (r.id, r.isNew)
    }

    /// Fires in a transaction of its own.
    @discardableResult
    public func fire(_ f: AlertFiring, notifier: AlertNotifier?) throws -> FireResult {
        try db.transaction { try fireInTransaction(f, notifier: notifier) }
    }

    /// Fires inside the caller's transaction (the monitor stores its hysteresis state with it).
    public func fireInTransaction(_ f: AlertFiring, notifier: AlertNotifier?) throws -> FireResult {
        // Serialises concurrent fires of one key (route and monitor) without a unique index.
        try db.query("SELECT pg_advisory_xact_lock(hashtext($1))", [f.dedupeKey])
        let debounce = String(Self.debounceSeconds)
        let open = try db.query("""
            SELECT id, severity, last_fired_at < now() - make_interval(secs => $2::double precision)
            FROM ops.alerts WHERE dedupe_key = $1 AND state IN ('firing', 'acknowledged')
            ORDER BY last_fired_at DESC LIMIT 1
            """, [f.dedupeKey, debounce])
        var id: Int64
        var change: Change
        var note: String? = nil
        if open.rowCount == 1 {
            id = open.int(0, 0)!
            let old = open.string(0, 1) ?? "info"
            let escalate = Self.rank(f.severity) > Self.rank(old)
            change = escalate ? .escalated : (open.bool(0, 2) == true ? .reminded : .debounced)
            if escalate { note = "severity \(old) → \(f.severity)" }
            try db.query("""
                UPDATE ops.alerts SET last_fired_at = now(), fire_count = fire_count + 1, detail = $2::jsonb,
                    value = coalesce($3::double precision, value), threshold = coalesce($4::double precision, threshold),
                    severity = CASE WHEN $5 THEN $6 ELSE severity END, title = CASE WHEN $5 THEN $7 ELSE title END
                WHERE id = $1
                """, [String(id), f.detail.serialized(), f.value.map { String($0) }, f.threshold.map { String($0) },
                      escalate ? "true" : "false", f.severity, f.title])
        } else {
            let recent = try db.query("""
                SELECT id FROM ops.alerts
                WHERE dedupe_key = $1 AND state = 'resolved' AND resolved_at > now() - make_interval(secs => $2::double precision)
                ORDER BY resolved_at DESC LIMIT 1
                """, [f.dedupeKey, debounce])
            if recent.rowCount == 1 {
                id = recent.int(0, 0)!
                change = .reopened
                try db.query("""
                    UPDATE ops.alerts SET state = 'firing', resolved_at = NULL, acknowledged_at = NULL, acknowledged_by = NULL,
                        ack_note = NULL, last_fired_at = now(), fire_count = fire_count + 1, severity = $2, title = $3,
                        detail = $4::jsonb, service = $5, value = $6, threshold = $7
                    WHERE id = $1
                    """, [String(id), f.severity, f.title, f.detail.serialized(), f.service, f.value.map { String($0) },
                          f.threshold.map { String($0) }])
            } else {
                change = .created
                let r = try db.query("""
                    INSERT INTO ops.alerts (rule, severity, dedupe_key, title, detail, service, value, threshold)
                    VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7, $8) RETURNING id
                    """, [f.rule, f.severity, f.dedupeKey, f.title, f.detail.serialized(), f.service,
                          f.value.map { String($0) }, f.threshold.map { String($0) }])
                id = r.int(0, 0)!
            }
        }
        guard let historyEvent = change.historyEvent else { return FireResult(id: id, change: change, notified: false) }
        let row = try alertRow(id)
        var notified = false
        if let notifier {
            if try silenced(rule: row.rule, service: row.service) {
                note = [note, "notification silenced"].compactMap { $0 }.joined(separator: "; ")
            } else {
                notified = try enqueue(notifier, kind: "alert", dedupeKey: "alert:\(id):\(row.fireCount)",
                                       payload: payload(row, event: change.notificationEvent))
                if notified { try db.query("UPDATE ops.alerts SET notified_at = now() WHERE id = $1", [String(id)]) }
            }
        }
        try history(id, historyEvent, actor: nil, note: note)
        try EventLog(connection: db).append([("alert_fired", [
            "type": "alert_fired", "alert_id": .int(id), "rule": .string(row.rule), "severity": .string(row.severity),
            "title": .string(row.title), "service": .from(row.service)])])
        return FireResult(id: id, change: change, notified: notified)
    }

    /// Resolves an open alert (no-op for a resolved or unknown one); returns whether it did.
    @discardableResult
    public func resolve(alertID: Int64, notifier: AlertNotifier?) throws -> Bool {
        try db.transaction { try resolveInTransaction(alertID: alertID, notifier: notifier) }
    }

    public func resolveInTransaction(alertID: Int64, notifier: AlertNotifier?) throws -> Bool {
        let r = try db.query("""
            UPDATE ops.alerts SET state = 'resolved', resolved_at = now()
            WHERE id = $1 AND state IN ('firing', 'acknowledged') RETURNING notified_at IS NOT NULL
            """, [String(alertID)])
        guard r.rowCount == 1 else { return false }
        let wasNotified = r.bool(0, 0) == true
        let row = try alertRow(alertID)
        var note: String? = nil
        if let notifier, wasNotified {
            if try silenced(rule: row.rule, service: row.service) {
                note = "notification silenced"
            } else {
                try enqueue(notifier, kind: "resolved", dedupeKey: "alert:\(alertID):resolved:\(row.fireCount)",
                            payload: payload(row, event: "resolved"))
            }
        }
        try history(alertID, "resolved", actor: nil, note: note)
        try EventLog(connection: db).append([("alert_resolved", [
            "type": "alert_resolved", "alert_id": .int(alertID), "rule": .string(row.rule), "service": .from(row.service)])])
        return true
    }

    public enum AckResult: Sendable, Equatable { case acknowledged, notFound, resolved }

    /// firing/acknowledged → acknowledged by `by` with an optional note (a repeated
    /// acknowledgement updates who and the note); a resolved alert cannot be acknowledged.
    public func acknowledge(alertID: Int64, by: String, note: String?) throws -> AckResult {
        try db.transaction {
            let r = try db.query("SELECT state FROM ops.alerts WHERE id = $1 FOR UPDATE", [String(alertID)])
            guard r.rowCount == 1 else { return .notFound }
            if r.string(0, 0) == "resolved" { return .resolved }
            try db.query("""
                UPDATE ops.alerts SET state = 'acknowledged', acknowledged_at = now(), acknowledged_by = $2, ack_note = $3
                WHERE id = $1
                """, [String(alertID), by, note])
            try history(alertID, "acknowledged", actor: by, note: note)
            return .acknowledged
        }
    }

    /// A silence; returns its id.
    public func createSilence(rule: String?, service: String?, endsAt: UTCTime, reason: String, createdBy: String) throws -> Int64 {
        let r = try db.query("""
            INSERT INTO ops.alert_silences (rule, service, ends_at, reason, created_by) VALUES ($1, $2, $3, $4, $5) RETURNING id
            """, [rule, service, endsAt.sql, reason, createdBy])
        return r.int(0, 0)!
    }

    /// Whether an unexpired silence covers the rule or service.
    public func silenced(rule: String, service: String?) throws -> Bool {
        let r = try db.query("""
            SELECT EXISTS (SELECT 1 FROM ops.alert_silences
                           WHERE ends_at > now() AND (rule IS NULL OR rule = $1) AND (service IS NULL OR service = $2))
            """, [rule, service])
        return r.bool(0, 0) == true
    }

    // MARK: internals

    struct Row {
        let id: Int64, rule: String, severity: String, title: String, service: String?, value: Double?, threshold: Double?
        let fireCount: Int64, detail: JSON
    }

    func alertRow(_ id: Int64) throws -> Row {
        let r = try db.query("SELECT rule, severity, title, service, value, threshold, fire_count, detail FROM ops.alerts WHERE id = $1",
                             [String(id)])
        return Row(id: id, rule: r.string(0, 0) ?? "", severity: r.string(0, 1) ?? "warning", title: r.string(0, 2) ?? "",
                   service: r.string(0, 3), value: r.double(0, 4), threshold: r.double(0, 5), fireCount: r.int(0, 6) ?? 1,
                   detail: r.string(0, 7).flatMap { try? JSON.parse($0) } ?? [:])
    }

    /// The outbox payload (read by OpsMonitorCore's AlertNotification).
    func payload(_ row: Row, event: String) -> JSON {
        ["event": .string(event), "alert_id": .int(row.id), "rule": .string(row.rule), "severity": .string(row.severity),
         "title": .string(row.title), "service": .from(row.service), "value": .from(row.value), "threshold": .from(row.threshold),
         "value_text": row.detail["value_text"] ?? .null, "threshold_text": row.detail["threshold_text"] ?? .null,
         "fire_count": .int(row.fireCount), "at": .string(UTCTime.now().iso8601)]
    }

    @discardableResult
    func enqueue(_ notifier: AlertNotifier, kind: String, dedupeKey: String, payload: JSON) throws -> Bool {
        let r = try db.query("""
            INSERT INTO ops.notification_outbox (webhook, kind, dedupe_key, payload) VALUES ($1, $2, $3, $4::jsonb)
            ON CONFLICT (dedupe_key) DO NOTHING
            """, [notifier.webhook, kind, dedupeKey, payload.serialized()])
        return r.affectedRows == 1
    }

    func history(_ id: Int64, _ event: String, actor: String?, note: String?) throws {
        try db.query("INSERT INTO ops.alert_history (alert_id, event, actor, note) VALUES ($1, $2, $3, $4)",
                     [String(id), event, actor, note])
    }

    static func rank(_ severity: String) -> Int {
        switch severity {
        case "critical": return 2
        case "warning": return 1
        default: return 0
        }
    }
}

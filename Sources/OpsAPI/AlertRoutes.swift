import OpsActivity
import OpsConfig
import OpsCrypto
import OpsHTTP
import OpsJSON
import OpsLedger
import OpsMonitorCore
import OpsPostgres

/// Alerts: list, one with its history, acknowledge; silences.
enum AlertRoutes {
    enum StateFilter: String, CaseIterable { case firing, acknowledged, resolved }

    static let columns = """
        id, rule, severity, state, service, title, value, threshold, detail::text,
        (extract(epoch FROM first_fired_at) * 1000000)::bigint, (extract(epoch FROM last_fired_at) * 1000000)::bigint,
        fire_count, (extract(epoch FROM acknowledged_at) * 1000000)::bigint, acknowledged_by, ack_note,
        (extract(epoch FROM resolved_at) * 1000000)::bigint
        """

    /// One alert as every route answers it.
    static func alert(_ r: PGResult, _ i: Int) -> JSON {
        ["id": .from(r.int(i, 0)), "rule": .from(r.string(i, 1)), "severity": .from(r.string(i, 2)),
         "state": .from(r.string(i, 3)), "service": .from(r.string(i, 4)), "title": .from(r.string(i, 5)),
         "value": .from(r.double(i, 6)), "threshold": .from(r.double(i, 7)),
         "detail": r.string(i, 8).flatMap { try? JSON.parse($0) } ?? .object(JSONObject()),
         "first_fired_at": time(r, i, 9), "last_fired_at": time(r, i, 10), "fire_count": .from(r.int(i, 11)),
         "acknowledged_at": time(r, i, 12), "acknowledged_by": .from(r.string(i, 13)), "ack_note": .from(r.string(i, 14)),
         "resolved_at": time(r, i, 15)]
    }

    static func time(_ r: PGResult, _ i: Int, _ c: Int) -> JSON { .from(r.int(i, c).map { UTCTime(micros: $0).iso8601 }) }

    /// `GET /api/ops/alerts?state=firing|acknowledged|resolved&limit=1..500`: newest first;
    /// without `state`, every alert that is not resolved.
    static func list(_ request: Request, _ context: AppContext) throws -> Response {
        let q = try QueryParameters(request, allowed: ["state", "limit"])
        let state: StateFilter? = request.query["state"] == nil ? nil : try q.choice("state", StateFilter.self, fallback: nil)
        let limit = try q.integer("limit", in: 1...500, fallback: 100)
        return .json(try context.database.run { db in
            let rows = try db.query("""
                SELECT \(columns) FROM ops.alerts
                WHERE CASE WHEN $1::text IS NULL THEN state IN ('firing', 'acknowledged') ELSE state = $1 END
                ORDER BY coalesce(resolved_at, last_fired_at) DESC, id DESC LIMIT $2
                """, [state?.rawValue, String(limit)])
            let counts = try db.query("""
                SELECT count(*) FILTER (WHERE state = 'firing'), count(*) FILTER (WHERE state = 'acknowledged'),
                       count(*) FILTER (WHERE state = 'resolved' AND resolved_at > now() - interval '24 hours')
                FROM ops.alerts WHERE state IN ('firing', 'acknowledged') OR resolved_at > now() - interval '24 hours'
                """)
            return ["alerts": .array((0..<rows.rowCount).map { alert(rows, $0) }),
                    "counts": ["firing": .from(counts.int(0, 0)), "acknowledged": .from(counts.int(0, 1)),
                               "resolved_24h": .from(counts.int(0, 2))]]
        })
    }

    static func alertID(_ request: Request) throws -> Int64 {
        let raw = request.pathParameters["id"] ?? ""
        guard let id = Int64(raw), id > 0 else {
            throw APIError.badRequest("invalid_id", "Alert id must be a positive integer, not '\(raw.prefix(32))'.")
        }
        return id
    }

    /// `GET /api/ops/alerts/{id}`: the alert and its history, oldest first.
    static func show(_ request: Request, _ context: AppContext) throws -> Response {
        _ = try QueryParameters(request, allowed: [])
        let id = try alertID(request)
        return .json(try context.database.run { db in try alertWithHistory(db, id) })
    }

    static func alertWithHistory(_ db: PGConnection, _ id: Int64) throws -> JSON {
        let r = try db.query("SELECT \(columns) FROM ops.alerts WHERE id = $1", [String(id)])
        guard r.rowCount == 1 else { throw APIError.notFound("No alert with id \(id).") }
        let h = try db.query("""
            SELECT id, (extract(epoch FROM ts) * 1000000)::bigint, event, actor, note
            FROM ops.alert_history WHERE alert_id = $1 ORDER BY ts, id
            """, [String(id)])
        var out = alert(r, 0).objectValue!
        out["history"] = .array((0..<h.rowCount).map { i in
            ["id": .from(h.int(i, 0)), "ts": time(h, i, 1), "event": .from(h.string(i, 2)), "actor": .from(h.string(i, 3)),
             "note": .from(h.string(i, 4))]
        })
        return .object(out)
    }

    /// `POST /api/ops/alerts/{id}/ack` `{"note"?}`: acknowledged by the caller; 404 unknown,
    /// 409 resolved. Answers the alert with its history.
    static func acknowledge(_ request: Request, _ context: AppContext) throws -> Response {
        _ = try QueryParameters(request, allowed: [])
        let id = try alertID(request)
        var note: String? = nil
        if !request.body.isEmpty {
            let object = try JSONBody.object(request, accepted: ["note"], example: #"{"note":"looking into it"}"#)
            switch object["note"] {
            case nil, .null?: break
            case .string(let s)?:
                guard s.count <= 1000 else { throw APIError.badRequest("invalid_field", "'note' must be at most 1000 characters.") }
                note = s.isEmpty ? nil : s
            default: throw APIError.badRequest("invalid_field", "'note' must be a string.")
            }
        }
        let who = request.subject ?? "unknown"
        let body: JSON = try context.database.run { db in
            switch try AlertStore(connection: db).acknowledge(alertID: id, by: who, note: note) {
            case .notFound: throw APIError.notFound("No alert with id \(id).")
            case .resolved: throw APIError(status: 409, code: "alert_resolved", message: "Alert \(id) is resolved; only open alerts can be acknowledged.")
            case .acknowledged: return try alertWithHistory(db, id)
            }
        }
        context.logger.info("alert acknowledged", [("request_id", .string(request.requestID)), ("alert_id", .int(id)), ("by", .string(who))])
        return .json(body)
    }

    // MARK: silences

    static let silenceColumns = """
        id, rule, service, (extract(epoch FROM ends_at) * 1000000)::bigint, reason, created_by,
        (extract(epoch FROM created_at) * 1000000)::bigint
        """

    static func silence(_ r: PGResult, _ i: Int) -> JSON {
        ["id": .from(r.int(i, 0)), "rule": .from(r.string(i, 1)), "service": .from(r.string(i, 2)), "ends_at": time(r, i, 3),
         "reason": .from(r.string(i, 4)), "created_by": .from(r.string(i, 5)), "created_at": time(r, i, 6)]
    }

    /// `GET /api/ops/silences`: silences that have not ended, soonest end first.
    static func silences(_ request: Request, _ context: AppContext) throws -> Response {
        _ = try QueryParameters(request, allowed: [])
        return .json(try context.database.run { db in
            let r = try db.query("SELECT \(silenceColumns) FROM ops.alert_silences WHERE ends_at > now() ORDER BY ends_at, id")
            return ["silences": .array((0..<r.rowCount).map { silence(r, $0) })]
        })
    }

    static let maxSilenceSeconds: Int64 = 30 * 86_400

    /// `POST /api/ops/silences` `{"rule"?, "service"?, "ends_at" | "duration_s", "reason"}`:
    /// while it lasts, matching alerts are recorded but not notified.
    static func createSilence(_ request: Request, _ context: AppContext) throws -> Response {
        _ = try QueryParameters(request, allowed: [])
        let example = #"{"service":"redis","duration_s":3600,"reason":"maintenance"}"#
        let o = try JSONBody.object(request, accepted: ["rule", "service", "ends_at", "duration_s", "reason"], example: example)
        func name(_ key: String, max: Int) throws -> String? {
            switch o[key] {
            case nil, .null?: return nil
            case .string(let s)? where !s.isEmpty && s.count <= max: return s
            default: throw APIError.badRequest("invalid_field", "'\(key)' must be a non-empty string of at most \(max) characters.")
            }
        }
        let rule = try name("rule", max: 64)
        let service = try name("service", max: 200)
        guard rule != nil || service != nil else {
            throw APIError.badRequest("missing_field", "A silence needs 'rule', 'service' or both; for example \(example).")
        }
        guard case .string(let reason)? = o["reason"], reason.contains(where: { !$0.isWhitespace }), reason.count <= 500 else {
            throw APIError.badRequest("invalid_field", "'reason' must be a non-empty string of at most 500 characters.")
        }
        let now = UTCTime.now()
        let endsAt: UTCTime
        switch (o["ends_at"].flatMap { $0.isNull ? nil : $0 }, o["duration_s"].flatMap { $0.isNull ? nil : $0 }) {
        case (nil, nil), (.some, .some):
            throw APIError.badRequest("invalid_field", "Give exactly one of 'ends_at' (RFC 3339) and 'duration_s' (seconds).")
        case (let v?, nil):
            guard let text = v.stringValue, let t = try? UTCTime.parse(text) else {
                throw APIError.badRequest("invalid_timestamp", "'ends_at' must be an RFC 3339 time with an offset, like 2030-01-01T08:00:00Z.")
            }
            endsAt = t
        case (nil, let v?):
            guard let seconds = v.intValue ?? v.doubleValue.flatMap({ $0.isFinite && $0 == $0.rounded() ? Int64($0) : nil }),
                  seconds >= 1, seconds <= maxSilenceSeconds else {
                throw APIError.badRequest("invalid_field", "'duration_s' must be an integer from 1 to \(maxSilenceSeconds) (30 days).")
            }
            endsAt = now.adding(seconds: seconds)
        }
        guard endsAt > now else { throw APIError.badRequest("invalid_field", "'ends_at' must be in the future.") }
        guard endsAt.micros - now.micros <= maxSilenceSeconds * 1_000_000 else {
            throw APIError.badRequest("invalid_field", "A silence lasts at most 30 days; 'ends_at' is later than that.")
        }
        let who = request.subject ?? "unknown"
        let body: JSON = try context.database.run { db in
            let id = try AlertStore(connection: db).createSilence(rule: rule, service: service, endsAt: endsAt, reason: reason, createdBy: who)
            let r = try db.query("SELECT \(silenceColumns) FROM ops.alert_silences WHERE id = $1", [String(id)])
            return silence(r, 0)
        }
        context.logger.info("alert silence created", [("request_id", .string(request.requestID)), ("by", .string(who)),
                                                     ("rule", .from(rule)), ("service", .from(service))])
        return .json(body, status: 201)
    }

    // MARK: shared with the budget check

    /// The outbox target when Discord notifications are on (DISCORD_ENABLE_ALERTS and a
    /// webhook URL); nil otherwise — then nothing is queued at all.
    static func notifier(_ config: Config) -> AlertNotifier? {
        guard config.discordEnableAlerts, !config.discordWebhookURL.isEmpty else { return nil }
        return AlertNotifier(webhook: Crypto.sha256Hex(config.discordWebhookURL))
    }

    static func firing(_ o: AlertObservation, detail: JSON) -> AlertFiring {
        AlertFiring(rule: o.rule, severity: o.severity.rawValue, dedupeKey: o.key, title: o.title, detail: detail,
                    service: o.service, value: o.value, threshold: o.threshold)
    }
}

import OpsJSON

/// An alert change waiting in ops.notification_outbox (kind `alert` or `resolved`). The
/// payload is written by OpsLedger's AlertStore:
/// `{"event":"fired|refired|escalated|resolved","alert_id","rule","severity","title","service",
///   "value","threshold","value_text","threshold_text","fire_count","at"}`.
public struct AlertNotification: Sendable, Equatable {
    public var outboxID: Int64
    public var event: String
    public var alertID: Int64
    public var rule: String
    public var severity: AlertSeverity
    public var title: String
    public var service: String?
    public var value: Double?
    public var threshold: Double?
    public var valueText: String?
    public var thresholdText: String?
    public var fireCount: Int64
    public var at: String?

    public init(outboxID: Int64, event: String, alertID: Int64, rule: String, severity: AlertSeverity, title: String,
                service: String? = nil, value: Double? = nil, threshold: Double? = nil, valueText: String? = nil,
                thresholdText: String? = nil, fireCount: Int64 = 1, at: String? = nil) {
        self.outboxID = outboxID
        self.event = event
        self.alertID = alertID
        self.rule = rule
        self.severity = severity
        self.title = title
        self.service = service
        self.value = value
        self.threshold = threshold
        self.valueText = valueText
        self.thresholdText = thresholdText
        self.fireCount = fireCount
        self.at = at
    }

    /// nil when the payload is not an alert change (it is then sent as plain text).
    public static func parse(outboxID: Int64, payload: JSON) -> AlertNotification? {
        guard let id = payload["alert_id"]?.intValue, let rule = payload["rule"]?.stringValue,
              let title = payload["title"]?.stringValue else { return nil }
        return AlertNotification(
            outboxID: outboxID, event: payload["event"]?.stringValue ?? "fired", alertID: id, rule: rule,
            severity: payload["severity"]?.stringValue.flatMap(AlertSeverity.init(rawValue:)) ?? .warning,
            title: title, service: payload["service"]?.stringValue, value: payload["value"]?.doubleValue,
            threshold: payload["threshold"]?.doubleValue, valueText: payload["value_text"]?.stringValue,
            thresholdText: payload["threshold_text"]?.stringValue, fireCount: payload["fire_count"]?.intValue ?? 1,
            at: payload["at"]?.stringValue)
    }

    public var isResolved: Bool { event == "resolved" }

    static func color(_ severity: AlertSeverity, resolved: Bool) -> Int {
        if resolved { return 0x2ECC71 }
        switch severity {
        case .critical: return 0xE74C3C
        case .warning: return 0xF39C12
        case .info: return 0x3498DB
        }
    }

    var headline: String {
        let level = severity.rawValue.uppercased()
        switch event {
        case "resolved": return "✅ RESOLVED (\(level))"
        case "escalated": return "⏫ \(level)"
        case "refired": return "🔁 \(level)"
        default: return severity == .critical ? "🔴 \(level)" : severity == .warning ? "🟠 \(level)" : "🔵 \(level)"
        }
    }

    /// The embed: service, value, threshold, severity and a link to the dashboard.
    public func embed(dashboardURL: String) -> DiscordEmbed {
        let link = AlertNotification.link(dashboardURL, alertID: alertID)
        let value = valueText ?? self.value.map { AlertRuleEvaluator.fmt($0, digits: 2) } ?? "-"
        let threshold = thresholdText ?? self.threshold.map { AlertRuleEvaluator.fmt($0, digits: 2) } ?? "-"
        var description = isResolved ? "The condition has cleared." : "Value **\(value)** (threshold \(threshold))."
        if event == "refired" { description += " Fired again (\(fireCount)× in all)." }
        if event == "escalated" { description += " Severity raised to \(severity.rawValue)." }
        if !link.isEmpty { description += "\n[Open the dashboard](\(link))" }
        return DiscordEmbed(
            title: "\(headline) · \(title)", description: description, url: link.isEmpty ? nil : link,
            color: AlertNotification.color(severity, resolved: isResolved),
            fields: [DiscordEmbed.Field("Service", service ?? "-"), DiscordEmbed.Field("Severity", severity.rawValue),
                     DiscordEmbed.Field("Value", value), DiscordEmbed.Field("Threshold", threshold),
                     DiscordEmbed.Field("Rule", rule), DiscordEmbed.Field("Alert", "#\(alertID)")],
            footer: "Opsplane alert #\(alertID) · \(event)", timestamp: at).limited()
    }

    static func link(_ dashboardURL: String, alertID: Int64) -> String {
        dashboardURL.isEmpty ? "" : "\(dashboardURL)#alert-\(alertID)"
    }

    /// A burst of alert changes as few messages as the limits allow: up to 10 embeds and
    /// 6000 embed characters each, in outbox order. Each message's content names how many
    /// alerts fired and resolved and links to the dashboard.
    public static func coalesce(_ notifications: [AlertNotification], dashboardURL: String) -> [DiscordMessage] {
        var messages: [DiscordMessage] = []
        var batch: [(AlertNotification, DiscordEmbed)] = []
        var chars = 0
        func flush() {
            guard !batch.isEmpty else { return }
            messages.append(DiscordMessage(rowIDs: batch.map { $0.0.outboxID }, content: content(batch.map { $0.0 }, dashboardURL),
                                           embeds: batch.map { $0.1 }))
            batch = []
            chars = 0
        }
        for n in notifications {
            let e = n.embed(dashboardURL: dashboardURL).fitting(DiscordLimits.embedCharactersPerMessage)
            if batch.count == DiscordLimits.embedsPerMessage || chars + e.characterCount > DiscordLimits.embedCharactersPerMessage { flush() }
            batch.append((n, e))
            chars += e.characterCount
        }
        flush()
        return messages
    }

    static func content(_ batch: [AlertNotification], _ dashboardURL: String) -> String {
        let link = dashboardURL.isEmpty ? "" : " · \(dashboardURL)"
        if batch.count == 1, let n = batch.first {
            return DiscordLimits.truncate("\(n.headline): \(n.title)", DiscordLimits.content - DiscordLimits.length(link)) + link
        }
        let resolved = batch.filter(\.isResolved).count
        let fired = batch.count - resolved
        var parts: [String] = []
        if fired > 0 { parts.append("\(fired) firing") }
        if resolved > 0 { parts.append("\(resolved) resolved") }
        return "Opsplane: \(batch.count) alert updates (\(parts.joined(separator: ", ")))\(link)"
    }
}

import OpsJSON
import OpsMonitorCore
import Testing

@Suite struct DiscordMessageTests {
    func notification(_ id: Int64, title: String = "db is down: connection refused", event: String = "fired",
                      severity: AlertSeverity = .critical, valueText: String = "down") -> AlertNotification {
        AlertNotification(outboxID: id, event: event, alertID: 100 + id, rule: "service_down", severity: severity, title: title,
                          service: "db", value: 1, threshold: 1, valueText: valueText, thresholdText: "down", fireCount: 1,
                          at: "2030-01-01T08:00:00Z")
    }

    @Test func truncationKeepsAVisibleMarker() {
        #expect(DiscordLimits.truncate("short", 10) == "short")
        let cut = DiscordLimits.truncate(String(repeating: "x", count: 300), 256)
        #expect(cut.utf16.count == 256 && cut.hasSuffix("… (truncated)"))
        // Characters outside the BMP count twice (UTF-16), and are never split in half.
        let emoji = DiscordLimits.truncate(String(repeating: "🔥", count: 200), 100)
        #expect(emoji.utf16.count <= 100 && emoji.hasSuffix(DiscordLimits.marker))
    }

    @Test func anAlertEmbedNamesServiceValueThresholdSeverityAndLinks() {
        let e = notification(1).embed(dashboardURL: "https://ops.example/admin/ops/")
        #expect(e.title.contains("CRITICAL") && e.title.contains("db is down"))
        #expect(e.url == "https://ops.example/admin/ops/#alert-101")
        #expect(e.description.contains("[Open the dashboard](https://ops.example/admin/ops/#alert-101)"))
        let fields = Dictionary(uniqueKeysWithValues: e.fields.map { ($0.name, $0.value) })
        #expect(fields["Service"] == "db" && fields["Value"] == "down" && fields["Threshold"] == "down" && fields["Severity"] == "critical")
        let resolved = notification(2, event: "resolved").embed(dashboardURL: "")
        #expect(resolved.title.hasPrefix("✅ RESOLVED") && resolved.url == nil && resolved.color == 0x2ECC71)
    }

    @Test func payloadRoundTrip() throws {
        let payload = try JSON.parse(#"{"event":"fired","alert_id":7,"rule":"disk_usage","severity":"warning","title":"Disk root: 86 % used","service":"host","value":86.2,"threshold":80,"value_text":"86.2 %","threshold_text":"> 80 %","fire_count":2,"at":"2030-01-01T00:00:00Z"}"#)
        let n = try #require(AlertNotification.parse(outboxID: 3, payload: payload))
        #expect(n.alertID == 7 && n.severity == .warning && n.value == 86.2 && n.valueText == "86.2 %" && n.fireCount == 2)
        #expect(AlertNotification.parse(outboxID: 1, payload: ["content": "hello"]) == nil)
    }

    @Test func aBurstIsCoalescedWithinTheLimits() {
        let burst = (1...30).map { notification(Int64($0)) }
        let messages = AlertNotification.coalesce(burst, dashboardURL: "https://ops.example/")
        #expect(messages.count == 3)
        #expect(messages.allSatisfy { $0.isWithinLimits && $0.embeds.count <= 10 })
        #expect(messages.flatMap(\.rowIDs) == (1...30).map(Int64.init), "every alert exactly once, in order")
        #expect(messages[0].content.contains("10 alert updates (10 firing)") && messages[0].content.contains("https://ops.example/"))
        let mixed = AlertNotification.coalesce([notification(1), notification(2, event: "resolved")], dashboardURL: "")
        #expect(mixed.count == 1 && mixed[0].content == "Opsplane: 2 alert updates (1 firing, 1 resolved)")
    }

    @Test func hugeAlertsAreSplitAndTruncated() {
        // 10 alerts of ~4000 characters each cannot share a message (6000 in all).
        let long = String(repeating: "very long title ", count: 250)
        let value = String(repeating: "9", count: 3000)
        let messages = AlertNotification.coalesce((1...10).map { notification(Int64($0), title: long, valueText: value) },
                                                  dashboardURL: "https://x/")
        #expect(messages.count == 10)
        #expect(messages.allSatisfy { $0.isWithinLimits })
        #expect(messages.flatMap(\.rowIDs).count == 10)
        #expect(messages[0].embeds[0].title.hasSuffix(DiscordLimits.marker))
        #expect(messages.allSatisfy { DiscordLimits.length($0.content) <= DiscordLimits.content })
    }

    @Test func embedsWithTooManyFieldsOrTooMuchTextAreCut() {
        let fields = (1...40).map { DiscordEmbed.Field("f\($0)", String(repeating: "v", count: 2000)) }
        let e = DiscordEmbed(title: String(repeating: "t", count: 300), description: String(repeating: "d", count: 5000),
                             fields: fields, footer: String(repeating: "f", count: 3000)).limited()
        #expect(e.fields.count == 25 && e.fields.last?.value == "16 more (truncated)")
        #expect(e.fields.allSatisfy { $0.value.utf16.count <= 1024 })
        #expect(e.title.utf16.count == 256 && e.description.utf16.count == 4096 && e.footer?.utf16.count == 2048)
        let fitted = e.fitting(6000)
        #expect(fitted.characterCount <= 6000)
        let message = DiscordMessage(rowIDs: [1], content: String(repeating: "c", count: 5000), embeds: [fitted])
        #expect(message.isWithinLimits && message.content.hasSuffix(DiscordLimits.marker))
        #expect(message.body["allowed_mentions"]?["parse"] == .array([]), "a title saying @everyone pings nobody")
    }

    @Test func backoffGrowsWithJitterAndIsCapped() {
        let b = DeliveryBackoff(baseSeconds: 2, capSeconds: 300)
        #expect(b.delay(afterFailures: 1, unit: 0) == 1 && b.delay(afterFailures: 1, unit: 1) == 2)
        #expect(b.delay(afterFailures: 2, unit: 0.5) == 3)
        #expect(b.delay(afterFailures: 5, unit: 1) == 32)
        #expect(b.delay(afterFailures: 9, unit: 1) == 300 && b.delay(afterFailures: 9, unit: 0) == 150)
        #expect(b.delay(afterFailures: 10_000, unit: 1) == 300, "never gives up, never grows past the cap")
        let spread = Set((0..<10).map { b.delay(afterFailures: 4, unit: Double($0) / 10) })
        #expect(spread.count == 10, "jitter spreads retries")
    }
}

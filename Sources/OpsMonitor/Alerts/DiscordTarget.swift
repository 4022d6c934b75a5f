import OpsConfig
import OpsCrypto
import OpsLedger

/// The Discord webhook when notifications are on (DISCORD_ENABLE_ALERTS and
/// DISCORD_WEBHOOK_URL both set); nil otherwise, and then nothing is queued or sent. The
/// outbox knows the webhook only by the SHA-256 of its URL (the URL carries its secret).
struct DiscordTarget {
    let url: String
    let webhook: String

    init?(_ config: Config) {
        guard config.discordEnableAlerts, !config.discordWebhookURL.isEmpty else { return nil }
        url = config.discordWebhookURL
        webhook = Crypto.sha256Hex(url)
    }

    var notifier: AlertNotifier { AlertNotifier(webhook: webhook) }
}

/// Alert evaluation, the notification outbox sender and the daily digest.
enum AlertComponents {
    static func make(_ context: MonitorContext) -> [MonitorComponent] {
        [AlertEngine(), OutboxSender(), DigestScheduler()]
    }
}

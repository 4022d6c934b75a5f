import ArgumentParser
import OpsFastCGI
import OpsTicker
#if canImport(Glibc)
import Glibc
#endif

struct TickerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ticker",
        abstract: "Run the live ticker: WebSocket fan-out of ops_events (behind nginx at /api/ws).")

    @Option(help: "Listen address (default: OPS_TICKER_HOST or 127.0.0.1).") var host: String?
    @Option(help: "Listen port (default: OPS_TICKER_PORT or 8091).") var port: Int?

    func run() throws {
        let config = try loadConfig()
        let logger = makeLogger(config, component: "ticker")
        var signals = sigset_t()
        sigemptyset(&signals)
        sigaddset(&signals, SIGTERM)
        sigaddset(&signals, SIGINT)
        pthread_sigmask(SIG_BLOCK, &signals, nil)
        signal(SIGPIPE, SIG_IGN)

        let hub = TickerHub()
        let listenPort = port ?? config.tickerPort
        let feed = EventFeed(settings: .init(databaseURL: config.databaseURL, instance: "ticker:\(listenPort)"),
                             hub: hub, logger: logger)
        let server = TickerServer(options: .init(host: host ?? config.tickerHost, port: listenPort,
                                                 threads: max(1, config.tickerThreads)),
                                  hub: hub, feed: feed, logger: logger)
        do {
            try server.start()
        } catch {
            logger.error("ticker could not start", [("error", .string("\(error)"))])
            throw ExitCode(1)
        }
        let feedThread = try startThread { feed.run() }
        var received: Int32 = 0
        sigwait(&signals, &received)
        logger.info("ticker stopping: closing clients with 1001", [("signal", .int(Int64(received)))])
        server.stop()
        feed.stop()
        pthread_join(feedThread, nil)
        logger.info("ticker stopped")
    }
}

import ArgumentParser
import OpsActivity
import OpsAPI
import OpsLedger
import OpsFastCGI
import OpsHTTP
import OpsLog
import OpsBeacon
import OpsPostgres
#if canImport(Glibc)
import Glibc
#endif

struct FcgiCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fcgi",
        abstract: "Run a FastCGI worker on a unix socket (stops cleanly on SIGTERM).")

    @Option(help: "Unix socket path (default: OPS_FCGI_SOCKET).")
    var socket: String?

    @Option(help: "Accept threads, each with its own Postgres connection (default: OPS_FCGI_THREADS).")
    var threads: Int?

    func run() throws {
        var config = try loadConfig()
        if let socket { config.fcgiSocket = socket }
        if let threads {
            guard (1...256).contains(threads) else { throw ValidationError("--threads must be 1 to 256") }
            config.fcgiThreads = threads
        }
        let logger = makeLogger(config, component: "fcgi")
        let options = FastCGIServer.Options(socketPath: config.fcgiSocket, threads: config.fcgiThreads,
                                            backlog: config.fcgiBacklog, maxBodyBytes: config.maxBodyBytes,
                                            shutdownGraceSeconds: config.shutdownGraceSeconds)
        let router = Routes.router()
        // Browser reports: queued by the accept threads, written in batches by one flusher.
        let beacons = FrontendLogQueue(
            limits: BeaconBuffer.Limits(maxReports: config.beaconQueueReports, maxBytes: 32 << 20,
                                        batchReports: 500, maxBatchReports: 2000,
                                        flushIntervalMicros: Int64(config.beaconFlushMillis) * 1000),
            perFingerprintPerMinute: config.beaconPerFingerprintPerMinute,
            session: DatabaseSession(url: config.databaseURL, applicationName: "opsplane-fcgi-beacons",
                                     connectTimeoutSeconds: config.dbConnectTimeoutSeconds,
                                     statementTimeoutMillis: config.dbStatementTimeoutMillis),
            logger: logger)
        let server = FastCGIServer(options: options, logger: logger) { index in
            let context = AppContext(config: config, logger: logger, applicationName: "opsplane-fcgi-\(index)",
                                     beacons: beacons)
            return Application(router: router, context: context).handle
        }
        // SIGTERM/SIGINT are blocked before any thread starts, so that only the server's
        // sigwait takes them (a thread started earlier would inherit the default action).
        var signals = sigset_t()
        sigemptyset(&signals)
        sigaddset(&signals, SIGTERM)
        sigaddset(&signals, SIGINT)
        pthread_sigmask(SIG_BLOCK, &signals, nil)
        // Keeps expensive cached answers fresh (one active refresher per lane among all workers).
        let cachePolicy = CachePolicy(maxAgeMillis: Double(config.cacheMaxAgeMillis), cheapMillis: Double(config.cacheCheapMillis))
        for lane in [AnswerRefresher.Lane.main, .slow] {
            let refresher = AnswerRefresher(databaseURL: config.databaseURL, policy: cachePolicy, logger: logger, lane: lane)
            _ = try startThread { refresher.run() }
        }
        let flusher = try startThread { beacons.runFlusher() }
        do {
            try server.run()
        } catch let error as FastCGIServer.StartError {
            logger.error("worker could not start", [("error", .string(error.description))])
            throw ExitCode(1)
        }
        // The accept threads have stopped: write every queued report before exiting.
        // Within what is left of the grace period (at least a second).
        let spent = server.stopSignalledAtMillis.map { (Timestamp.monotonicMillis() - $0) / 1000 } ?? 0
        if beacons.drain(seconds: max(1, Double(config.shutdownGraceSeconds) - spent)) == 0 {
            pthread_join(flusher, nil)
        }
    }
}

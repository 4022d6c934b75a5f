import ArgumentParser
import Foundation
import OpsAPI
import OpsMonitor
import OpsMonitorCore
#if canImport(Glibc)
import Glibc
#endif

struct MonitorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "monitor",
        abstract: "Run the monitor: probes, host capacity, API performance, alerts, Discord, digest, rollups.",
        discussion: """
            Reads its services from the JSON file named by --config or OPS_MONITOR_CONFIG (see
            README.md); without one it probes its own database only. Several monitors may run:
            one holds the advisory lock OPS_MONITOR_LOCK and acts, the others stand by.
            """)

    @Option(help: "Monitor configuration file (default: OPS_MONITOR_CONFIG).") var config: String?
    @Flag(help: "Parse and print the configuration, then exit.") var check = false

    func run() throws {
        let settings = try loadConfig()
        let logger = makeLogger(settings, component: "monitor")
        var monitorConfig = MonitorConfig.builtIn(databaseURL: settings.databaseURL)
        let path = config ?? settings.monitorConfigPath
        if !path.isEmpty {
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                printError("opsplane monitor: cannot read the configuration file \(path)")
                throw ExitCode(2)
            }
            do { monitorConfig = try MonitorConfig.parse(text, routeTable: Routes.table().map(\.pattern)) } catch {
                printError("opsplane monitor: \(path): \(error)")
                throw ExitCode(2)
            }
        }
        // A bad digest schedule stops the start instead of silently never sending a digest.
        do { _ = try CronSchedule(settings.discordDigestCron) } catch {
            printError("opsplane monitor: DISCORD_DAILY_DIGEST_CRON: \(error)")
            throw ExitCode(2)
        }
        if check {
            print("configuration OK: \(monitorConfig.services.count) service(s), \(monitorConfig.dataDirectories.count) data director(ies), access log: \(monitorConfig.accessLog?.path ?? "none"), \(monitorConfig.alerts.activeRules.count) alert rule(s)")
            return
        }
        var signals = sigset_t()
        sigemptyset(&signals)
        sigaddset(&signals, SIGTERM)
        sigaddset(&signals, SIGINT)
        pthread_sigmask(SIG_BLOCK, &signals, nil)
        signal(SIGPIPE, SIG_IGN)

        let instance = "\(ProcessInfo.processInfo.hostName):\(getpid())"
        let context = MonitorContext(config: settings, monitorConfig: monitorConfig, logger: logger, instance: instance)
        let process = MonitorProcess(context: context, components: MonitorComponents.all(context))
        logger.info("monitor starting", [("instance", .string(instance)), ("services", .int(Int64(monitorConfig.services.count))),
                                         ("lock", .string(settings.monitorLockName))])
        process.start()
        var received: Int32 = 0
        sigwait(&signals, &received)
        logger.info("monitor stopping", [("signal", .int(Int64(received)))])
        process.stop(graceSeconds: Double(settings.shutdownGraceSeconds))
        logger.info("monitor stopped")
    }
}

import ArgumentParser

@main
struct Opsplane: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "opsplane",
        abstract: "Opsplane: the ops control plane's server processes and admin tools.",
        discussion: "Configuration comes from OPS_* environment variables; see README.md.",
        subcommands: [FcgiCommand.self, MigrateCommand.self, TokenCommand.self, RoutesCommand.self, DemoCommand.self, TickerCommand.self, MonitorCommand.self]
    )
}

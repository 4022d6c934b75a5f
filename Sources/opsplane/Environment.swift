import ArgumentParser
import Foundation
import OpsConfig
import OpsLog

/// Loads the configuration or stops with a message that names the bad variable (exit 2).
func loadConfig() throws -> Config {
    do {
        return try Config.from(environment: ProcessInfo.processInfo.environment)
    } catch {
        printError("opsplane: \(error)")
        throw ExitCode(2)
    }
}

func printError(_ message: String) {
    FileHandle.standardError.write(Data((message + "\n").utf8))
}

func makeLogger(_ config: Config, component: String) -> Logger {
    Logger(minimumLevel: LogLevel(name: config.logLevel) ?? .info,
           baseFields: [("component", .string(component)), ("pid", .int(Int64(ProcessInfo.processInfo.processIdentifier)))])
}

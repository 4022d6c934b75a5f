import ArgumentParser
import Foundation
import OpsCtlCore
#if canImport(Glibc)
import Glibc
#endif

struct OpsCtl: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "opsctl",
        abstract: "Opsplane from the command line: triage with JSON for jq, --plain for people.",
        discussion: """
            Every command prints the API's JSON answer on stdout exactly as the
            server sent it (pipe it to jq); --plain prints a compact view with
            aligned columns instead. Errors go to stderr as one line,
            `opsctl: <message> (<error code>)`: the API's code (unknown_service,
            forbidden, ...) or opsctl's (unreachable, timeout, tls, no_token,
            usage, ...).

            CONFIGURATION
              OPSCTL_URL     server base URL, e.g. https://ops.example.com
              OPSCTL_TOKEN   API token (admin; whoami takes any role)
              OPSCTL_CACERT  CA certificate file to trust (self-signed setup)
              config file    written by `opsctl login`: URL and token, mode
                             0600, in $XDG_CONFIG_HOME/opsctl/config.json or
                             ~/.config/opsctl/config.json. A file others can
                             read is refused; its token only goes to its URL.
              --url, --token and --cacert override them. A token given with
              --token is visible to other users in `ps`: prefer OPSCTL_TOKEN
              or `opsctl login`. TLS certificates are always verified.

            EXIT CODES
            \(ExitStatus.table)

            SHELL COMPLETION
              opsctl --generate-completion-script bash|zsh|fish
            """,
        version: OpsCtlVersion.string,
        subcommands: [
            Summary.self, Context.self, Timeseries.self, Top.self, Health.self, Alerts.self, Logs.self,
            FrontendLogs.self, Bundle.self, Events.self, Login.self, Whoami.self, Version.self,
        ]
    )
}

@main
enum Main {
    static func main() {
        // A reader that goes away must not kill us with SIGPIPE mid-write (write returns EPIPE).
        signal(SIGPIPE, SIG_IGN)
        do {
            var command = try OpsCtl.parseAsRoot()
            try command.run()
            exit(0)
        } catch let failure as Failure {
            Out.fail(failure)
            exit(failure.status.rawValue)
        } catch let code as ExitCode {
            exit(code.rawValue)
        } catch {
            let code = OpsCtl.exitCode(for: error)
            if code == .success {
                // --help, --version, --generate-completion-script
                Out.stdout(OpsCtl.fullMessage(for: error) + "\n")
                exit(0)
            }
            if code == .validationFailure {
                var message = OpsCtl.message(for: error).trimmed
                while message.hasSuffix(".") { message.removeLast() }
                let full = OpsCtl.fullMessage(for: error)
                let hint = full.split(separator: "\n").first(where: { $0.contains("--help") })
                    .map { "; " + String($0).trimmed.replacingOccurrences(of: " for more information.", with: "").lowercasedFirst }
                    ?? ""
                Out.fail(Failure(.usage, code: "usage", message + hint))
                exit(ExitStatus.usage.rawValue)
            }
            Out.fail(Failure(.failure, code: "internal", OpsCtl.message(for: error)))
            exit(code.rawValue == 0 ? 1 : code.rawValue)
        }
    }
}

extension String {
    var lowercasedFirst: String { prefix(1).lowercased() + dropFirst() }
}

import ArgumentParser
import Foundation
import OpsCtlCore
import OpsCurl
import OpsJSON
#if canImport(Glibc)
import Glibc
#endif

struct Logs: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The end of a service's logs, without SSH (GET /api/ops/logs); --follow keeps printing new lines.",
        discussion: """
            SERVICE is a name from the server's allowlist; an unknown one exits 4
            and the error lists the known ones. JSON output is the API's answer;
            with --follow it is one entry object ({"ts","level","message"}) per
            line instead, so that it streams into jq. --follow asks every
            --interval seconds for the lines since the newest one seen and
            prints only new ones; Ctrl-C ends it with exit 0.
            """)

    @Argument(help: ArgumentHelp("The log service, e.g. workers, nginx-access, nginx-error, postgres.", valueName: "service"))
    var service: String
    @Option(help: "How many of the last lines, 1 to 5000.")
    var tail: Int = 200
    @Option(help: "Only lines since then: a duration (30s, 5m, 2h, 7d) or an RFC 3339 time.")
    var since: String?
    @Option(help: "Only this level and above: debug, info, warn, error.")
    var level: LogLevel?
    @Flag(help: "The lines exactly as in the file (format=plain), not the parsed entries.")
    var raw = false
    @Flag(name: [.customShort("f"), .long], help: "Keep printing new lines until interrupted.")
    var follow = false
    @Option(help: ArgumentHelp("Seconds between two polls with --follow.", valueName: "seconds"))
    var interval: Double = 2
    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var output: PlainFlag

    func validate() throws {
        guard (1...5000).contains(tail) else { throw ValidationError("--tail must be between 1 and 5000") }
        guard interval >= 0.2, interval <= 3600 else { throw ValidationError("--interval must be between 0.2 and 3600 seconds") }
        if raw && (follow || output.plain) { throw ValidationError("--raw cannot be combined with --follow or --plain") }
    }

    func query(tail: Int, since: String?, format: String = "json") -> [(String, String?)] {
        [("service", service), ("tail", String(tail)), ("format", format), ("since", since), ("level", level?.rawValue)]
    }

    func run() throws {
        if follow { Interrupts.exitQuietly() }
        let client = try connection.client()
        if raw {
            let exchange = try client.send("GET", "/api/ops/logs", query: query(tail: tail, since: since, format: "plain"),
                                           accept: "text/plain")
            Out.stdout(exchange.body)
            return
        }
        let first = try client.send("GET", "/api/ops/logs", query: query(tail: tail, since: since))
        guard follow else {
            if output.plain {
                let answer = try client.parse(first.body)
                Out.stdout(PlainViews.logs(answer))
                warnings(answer)
            } else {
                Out.json(first.body)
            }
            return
        }
        try followLogs(client: client, first: first)
    }

    func warnings(_ answer: JSON) {
        for w in answer["warnings"]?.arrayValue ?? [] { Out.warn(w.stringValue ?? w.serialized()) }
    }

    func printEntries(_ entries: [JSON]) {
        guard !entries.isEmpty else { return }
        var text = ""
        for e in entries { text += output.plain ? PlainViews.logLine(e) : e.serialized() + "\n" }
        Out.stdout(text)
    }

    func followLogs(client: Client, first: HTTPExchange) throws {
        var follower = LogFollower()
        let answer = try client.parse(first.body)
        warnings(answer)
        if output.plain { Out.stdout(PlainViews.logHeader) }
        printEntries(follower.accept(answer["entries"]?.arrayValue ?? []).new)
        // Nothing with a time yet: start from the server's clock (a second back; what comes
        // again is de-duplicated), so that old lines are not printed as new.
        var cursorFallback = first.header("date").flatMap { httpDateToRFC3339($0, minusSeconds: 1) }
        let pollTail = 2000
        var failing = false
        while true {
            pause(seconds: interval)
            let sinceNow = follower.cursor ?? cursorFallback
            do {
                let exchange = try client.send("GET", "/api/ops/logs", query: query(tail: pollTail, since: sinceNow))
                if failing {
                    Out.note("opsctl: the server answers again; following")
                    failing = false
                }
                let value = try client.parse(exchange.body)
                let entries = value["entries"]?.arrayValue ?? []
                let result = follower.accept(entries, full: entries.count >= pollTail)
                if result.gap { Out.warn("more than \(pollTail) new lines since the last poll; some were skipped") }
                printEntries(result.new)
                if follower.cursor == nil, let d = exchange.header("date").flatMap({ httpDateToRFC3339($0, minusSeconds: 1) }) {
                    cursorFallback = d
                }
            } catch let f as Failure where f.status == .server {
                // A restarting worker or a network blip: say so once, keep trying.
                if !failing { Out.note(f.line(secrets: Out.secrets) + "; still trying") }
                failing = true
            }
        }
    }
}

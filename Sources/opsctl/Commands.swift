import ArgumentParser
import Foundation
import OpsCtlCore
import OpsJSON
#if canImport(Glibc)
import Glibc
#endif

enum Window: String, ExpressibleByArgument, CaseIterable {
    case today, d7 = "7d", d30 = "30d"
}

enum Metric: String, ExpressibleByArgument, CaseIterable {
    case runsByHour = "runs_by_hour", errorsByHour = "errors_by_hour", costByHour = "cost_by_hour"
}

enum TopKind: String, ExpressibleByArgument, CaseIterable {
    case agents, users, models
}

enum AlertState: String, ExpressibleByArgument, CaseIterable {
    case firing, acknowledged, resolved
}

enum LogLevel: String, ExpressibleByArgument, CaseIterable {
    case debug, info, warn, error
}

struct Summary: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Today's KPIs: runs, cost, budgets, active users, latency, errors, top agents (GET /api/ops/summary).")
    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var output: PlainFlag

    func run() throws {
        let client = try connection.client()
        let exchange = try client.send("GET", "/api/ops/summary")
        try emit(exchange.body, plain: output.plain, client: client, view: PlainViews.summary)
    }
}

struct Context: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "One snapshot for triage: summary, deploy, services, db, frontend, alerts (GET /api/ops/context).")
    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var output: PlainFlag

    func run() throws {
        let client = try connection.client()
        let exchange = try client.send("GET", "/api/ops/context")
        try emit(exchange.body, plain: output.plain, client: client, view: PlainViews.flattened)
    }
}

struct Timeseries: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "One metric over a window: 24 hourly points for today, daily points for 7d/30d (GET /api/ops/timeseries).")
    @Argument(help: ArgumentHelp("runs_by_hour, errors_by_hour or cost_by_hour.", valueName: "metric"))
    var metric: Metric
    @Option(help: "today, 7d or 30d.")
    var window: Window = .today
    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var output: PlainFlag

    func run() throws {
        let client = try connection.client()
        let exchange = try client.send("GET", "/api/ops/timeseries",
                                       query: [("metric", metric.rawValue), ("window", window.rawValue)])
        try emit(exchange.body, plain: output.plain, client: client) { PlainViews.timeseries($0) }
    }
}

struct Top: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The busiest agents, users or models of a window (GET /api/ops/top).")
    @Option(help: "agents, users or models.")
    var kind: TopKind = .agents
    @Option(help: "today, 7d or 30d.")
    var window: Window = .today
    @Option(help: "How many, 1 to 100 (server default 5).")
    var limit: Int?
    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var output: PlainFlag

    func validate() throws {
        if let limit, !(1...100).contains(limit) { throw ValidationError("--limit must be between 1 and 100") }
    }

    func run() throws {
        let client = try connection.client()
        let exchange = try client.send("GET", "/api/ops/top",
                                       query: [("kind", kind.rawValue), ("window", window.rawValue), ("limit", limit.map(String.init))])
        try emit(exchange.body, plain: output.plain, client: client) { PlainViews.top($0, kind: kind.rawValue) }
    }
}

struct Health: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Service health from the monitor: status per module, response times, errors (GET /api/monitoring/health).")
    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var output: PlainFlag

    func run() throws {
        let client = try connection.client()
        let exchange = try client.send("GET", "/api/monitoring/health")
        try emit(exchange.body, plain: output.plain, client: client, view: PlainViews.health)
    }
}

struct Alerts: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List alerts (`opsctl alerts [--state firing]`) or acknowledge one (`opsctl alerts ack ID`).",
        subcommands: [AlertsList.self, AlertsAck.self],
        defaultSubcommand: AlertsList.self)
}

struct AlertsList: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list", abstract: "Alerts, newest first (GET /api/ops/alerts).")
    @Option(help: "firing, acknowledged or resolved (default: the server's, the open ones).")
    var state: AlertState?
    @Option(help: "At most this many.")
    var limit: Int?
    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var output: PlainFlag

    func validate() throws {
        if let limit, limit < 1 { throw ValidationError("--limit must be at least 1") }
    }

    func run() throws {
        let client = try connection.client()
        let exchange = try client.send("GET", "/api/ops/alerts",
                                       query: [("state", state?.rawValue), ("limit", limit.map(String.init))])
        try emit(exchange.body, plain: output.plain, client: client, view: PlainViews.alerts)
    }
}

struct AlertsAck: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ack",
        abstract: "Acknowledge a firing alert (POST /api/ops/alerts/{id}/ack); 404 → exit 4, already resolved (409) → exit 1.")
    @Argument(help: ArgumentHelp("The alert's id (from `opsctl alerts`).", valueName: "id"))
    var id: String
    @Option(help: "Why, or what is being done about it.")
    var note: String?
    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var output: PlainFlag

    func validate() throws {
        if id.isEmpty { throw ValidationError("the alert id is empty") }
    }

    func run() throws {
        let client = try connection.client()
        var body = JSONObject()
        if let note { body["note"] = .string(note) }
        let exchange = try client.send("POST", "/api/ops/alerts/\(ServerURL.encode(id))/ack",
                                       json: JSON.object(body).serializedBytes())
        try emit(exchange.body, plain: output.plain, client: client, view: PlainViews.alert)
    }
}

struct FrontendLogs: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "frontend-logs",
        abstract: "Recent browser errors, newest first, or grouped by fingerprint (GET /api/ops/frontend-logs).")
    @Option(help: "How far back: 30s, 5m, 2h, 7d (server default 1h, at most 7d).")
    var since: String?
    @Option(help: "Only this page (e.g. /agents/42; ids become :id).")
    var route: String?
    @Flag(help: "Group by fingerprint with counts.")
    var group = false
    @Option(help: "At most this many entries or groups, 1 to 500 (server default 100).")
    var limit: Int?
    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var output: PlainFlag

    func validate() throws {
        if let limit, !(1...500).contains(limit) { throw ValidationError("--limit must be between 1 and 500") }
    }

    func run() throws {
        let client = try connection.client()
        let exchange = try client.send("GET", "/api/ops/frontend-logs",
                                       query: [("since", since), ("route", route), ("group", group ? "1" : nil),
                                               ("limit", limit.map(String.init))])
        try emit(exchange.body, plain: output.plain, client: client, view: PlainViews.frontendLogs)
    }
}

struct Bundle: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Download a support bundle (gzipped JSON, secrets redacted) to a file of mode 0600 (GET /api/ops/support-bundle).",
        discussion: """
            The file is named as the server says (opsplane-support-
            YYYYMMDDTHHMMSSZ.json.gz) unless -o names one; `-o -` writes to
            stdout. The path and size are printed on stderr. An existing file
            is not replaced without --force.
            """)
    @Option(name: [.short, .customLong("output")], help: ArgumentHelp("Write here (`-` for stdout).", valueName: "file"),
            completion: .file())
    var outputFile: String?
    @Option(help: "Log lines per service, 1 to 2000 (server default 200).")
    var lines: Int?
    @Flag(help: "Replace the file if it exists.")
    var force = false
    @OptionGroup var connection: ConnectionOptions

    func validate() throws {
        if let lines, !(1...2000).contains(lines) { throw ValidationError("--lines must be between 1 and 2000") }
    }

    func run() throws {
        let client = try connection.client()
        let exchange = try client.send("GET", "/api/ops/support-bundle", query: [("lines", lines.map(String.init))],
                                       accept: "application/gzip, application/json",
                                       timeoutMillis: max(client.timeoutMillis, 120_000))
        if outputFile == "-" {
            Out.stdout(exchange.body)
            return
        }
        let stamp = Int(Date().timeIntervalSince1970)
        let path = outputFile ?? downloadFileName(contentDisposition: exchange.header("content-disposition"),
                                                  fallback: "opsplane-support-\(stamp).json.gz")
        try writePrivateFile(path, exchange.body, replace: force)
        Out.note("wrote \(path) (\(exchange.body.count) bytes)")
    }

    /// Mode 0600 from the start (never readable by others, not even for a moment).
    func writePrivateFile(_ path: String, _ bytes: [UInt8], replace: Bool) throws {
        let flags = O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW | (replace ? O_TRUNC : O_EXCL)
        let fd = open(path, flags, 0o600)
        guard fd >= 0 else {
            let reason = String(cString: strerror(errno))
            throw Failure(.failure, code: errno == EEXIST ? "file_exists" : "write_failed",
                          errno == EEXIST ? "\(path) exists; use --force to replace it or -o to choose another name"
                                          : "cannot create \(path): \(reason)")
        }
        defer { close(fd) }
        _ = fchmod(fd, 0o600)
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw Failure(.failure, code: "write_failed", "cannot write \(path): \(String(cString: strerror(errno)))")
            }
            offset += n
        }
    }
}

struct Whoami: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Who the token is: subject and role (GET /api/ops/whoami; any role but ingest).")
    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var output: PlainFlag

    func run() throws {
        let client = try connection.client()
        let exchange = try client.send("GET", "/api/ops/whoami")
        try emit(exchange.body, plain: output.plain, client: client, view: PlainViews.flattened)
    }
}

struct Version: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "opsctl's version, as JSON ({\"opsctl\": \"…\"}).")
    @OptionGroup var output: PlainFlag

    func run() throws {
        if output.plain {
            Out.stdout("opsctl \(OpsCtlVersion.string)\n")
        } else {
            Out.stdout(JSON.object(JSONObject([("opsctl", .string(OpsCtlVersion.string))])).serialized() + "\n")
        }
    }
}

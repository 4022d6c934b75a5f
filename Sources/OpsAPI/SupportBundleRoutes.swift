import OpsActivity
import OpsHTTP
import OpsJSON
import OpsLedger
import OpsLogTail
import OpsMigrations
import OpsSupportBundle
#if canImport(Glibc)
import Glibc
#endif

/// `GET /api/ops/support-bundle?lines=200`: everything someone helping from afar needs, as
/// one gzipped JSON download — the context snapshot, open and recent alerts, migrations,
/// process starts, grouped frontend errors, this worker's configuration and the last lines
/// of every allowlisted log — with secrets redacted, under a size cap, with a manifest.
enum SupportBundleRoutes {
    static func download(_ request: Request, _ context: AppContext) throws -> Response {
        let q = try QueryParameters(request, allowed: ["lines"])
        let lines = try q.integer("lines", in: 1...2000, fallback: 200)
        let now = UTCTime.now()
        let redactor = Redactor()

        var sections: [BundleAssembler.Section] = []
        func add(_ name: String, _ body: () throws -> JSON) {
            do { sections.append(.value(name, redactor.redact(try body()))) } catch {
                sections.append(.unavailable(name, String("\(error)".prefix(300))))
            }
        }
        add("context") { .object(ContextSnapshot.build(context, now: now)) }
        add("alerts") { try alerts(context) }
        add("migrations") { try migrations(context) }
        add("deploys") { try deploys(context) }
        add("frontend_errors") {
            try context.database.run { .array(try FrontendLogStore(connection: $0).groups(sinceSeconds: 86_400, route: nil, limit: 50)) }
        }
        add("environment") { environment() }
        do {
            let sources = try context.logSources()
            let services = sources.services.map { service -> (service: String, meta: JSONObject, lines: [String]) in
                let r = LogTail.read(service, tail: lines, since: nil, minimumLevel: nil, now: now)
                let meta = JSONObject([("files", .array(r.files.map(JSON.string))),
                                       ("warnings", .array(r.warnings.map(JSON.string)))])
                return (service.name, meta, r.lines.map { redactor.redact($0.raw) })
            }
            sections.append(.logs("logs", services))
        } catch {
            sections.append(.unavailable("logs", "\(error)"))
        }

        let base = JSONObject([
            ("generated_at", .string(now.iso8601)), ("generator", "GET /api/ops/support-bundle"),
            ("opsplane_version", .string(BuildInfo.version)), ("git_sha", .string(BuildInfo.gitSHA)),
            ("log_lines_per_service", .int(Int64(lines))),
            ("redaction", ["rules": redactor.manifest, "total": .int(Int64(redactor.total))]),
        ])
        let (bundle, _) = BundleAssembler(capBytes: context.config.bundleMaxBytes).assemble(sections, manifest: base)
        let json = JSON.object(bundle).serializedBytes()
        guard let gz = Gzip.compress(json) else {
            throw APIError(status: 500, code: "compression_failed", message: "The bundle could not be compressed.")
        }
        let stamp = now.iso8601(fractionDigits: 0).replacingDashesAndColons()
        return Response(status: 200, headers: [
            HTTPHeader("Content-Type", "application/gzip"),
            HTTPHeader("Content-Disposition", "attachment; filename=\"opsplane-support-\(stamp).json.gz\""),
            HTTPHeader("Cache-Control", "no-store"),
            HTTPHeader("X-Bundle-Bytes", String(json.count)),
        ], body: gz)
    }

    static func alerts(_ context: AppContext) throws -> JSON {
        let r = try context.database.run { db in try db.query("""
            SELECT id, rule, severity, state, title, service, detail::text, \(micros("first_fired_at")),
                   \(micros("last_fired_at")), fire_count, acknowledged_by, \(micros("resolved_at"))
            FROM ops.alerts WHERE state <> 'resolved' OR resolved_at > now() - interval '7 days'
            ORDER BY last_fired_at DESC LIMIT 200
            """) }
        let t = { (i: Int, c: Int) -> JSON in .from(r.time(i, c)?.iso8601) }
        return .array((0..<r.rowCount).map { i in
            ["id": .from(r.int(i, 0)), "rule": .from(r.string(i, 1)), "severity": .from(r.string(i, 2)),
             "state": .from(r.string(i, 3)), "title": .from(r.string(i, 4)), "service": .from(r.string(i, 5)),
             "detail": r.string(i, 6).flatMap { try? JSON.parse($0) } ?? .null,
             "first_fired_at": t(i, 7), "last_fired_at": t(i, 8), "fire_count": .from(r.int(i, 9)),
             "acknowledged_by": .from(r.string(i, 10)), "resolved_at": t(i, 11)]
        })
    }

    static func migrations(_ context: AppContext) throws -> JSON {
        let known = try MigrationSource.load(directory: context.config.migrationsDirectory)
        let status = try context.database.run { try MigrationRunner(connection: $0).status(known) }
        return .array(status.map { ["version": .int(Int64($0.version)), "name": .string($0.name),
                                    "state": .string($0.state.rawValue), "applied_at": .from($0.appliedAt)] })
    }

    /// Process starts seen in the last week: this worker, monitors, tickers.
    static func deploys(_ context: AppContext) throws -> JSON {
        let monitors = try context.database.run { db in try db.query("""
            SELECT instance, version, \(micros("started_at")), \(micros("heartbeat_at")), active
            FROM ops.monitor_instances WHERE heartbeat_at > now() - interval '7 days' ORDER BY started_at DESC LIMIT 50
            """) }
        let tickers = try context.database.run { db in try db.query("""
            SELECT instance, pid, \(micros("updated_at")) FROM ops.ticker_stats ORDER BY updated_at DESC LIMIT 50
            """) }
        return [
            "worker": ["pid": .int(Int64(getpid())), "version": .string(BuildInfo.version), "git_sha": .string(BuildInfo.gitSHA),
                       "started_at": .from(BuildInfo.startedAtSeconds.map { UTCTime(seconds: $0).iso8601 })],
            "monitors": .array((0..<monitors.rowCount).map { i in
                ["instance": .from(monitors.string(i, 0)), "version": .from(monitors.string(i, 1)),
                 "started_at": .from(monitors.time(i, 2)?.iso8601),
                 "last_seen_at": .from(monitors.time(i, 3)?.iso8601), "active": .from(monitors.bool(i, 4))]
            }),
            "tickers": .array((0..<tickers.rowCount).map { i in
                ["instance": .from(tickers.string(i, 0)), "pid": .from(tickers.int(i, 1)),
                 "last_seen_at": .from(tickers.time(i, 2)?.iso8601)]
            }),
        ]
    }

    /// This worker's configuration variables (OPS_*, DAILY_*, DISCORD_*); the redactor then
    /// replaces values whose names look secret and credentials inside URLs.
    static func environment() -> JSON {
        var out = JSONObject()
        var p = environ
        var pairs: [(String, String)] = []
        while let entry = p.pointee {
            let text = String(cString: entry)
            if let eq = text.firstIndex(of: "=") {
                let name = String(text[..<eq])
                if name.hasPrefix("OPS_") || name.hasPrefix("DAILY_") || name.hasPrefix("DISCORD_") {
                    pairs.append((name, String(text[text.index(after: eq)...])))
                }
            }
            p += 1
        }
        for (k, v) in pairs.sorted(by: { $0.0 < $1.0 }) { out[k] = .string(v) }
        return .object(out)
    }
}

extension String {
    /// `2026-11-22T04:05:06Z` → `20261122T040506Z`, for file names.
    func replacingDashesAndColons() -> String { String(filter { $0 != "-" && $0 != ":" }) }
}

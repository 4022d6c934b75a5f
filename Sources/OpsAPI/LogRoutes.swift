import OpsActivity
import OpsBeacon
import OpsHTTP
import OpsJSON
import OpsLogTail

/// `GET /api/ops/logs?service=NAME&tail=200&format=json|plain&since=5m&level=warn`: the end of an
/// allowlisted service's logs, without SSH.
enum LogRoutes {
    enum Format: String, CaseIterable { case json, plain }

    static func tail(_ request: Request, _ context: AppContext) throws -> Response {
        let q = try QueryParameters(request, allowed: ["service", "tail", "format", "since", "level"])
        let sources = try context.logSources()
        guard let name = q.query["service"], !name.isEmpty else {
            throw APIError(status: 400, code: "invalid_parameter",
                           message: "Parameter 'service' is required; known services: \(sources.names.joined(separator: ", ")).",
                           details: JSONObject([("services", .array(sources.names.map(JSON.string)))]))
        }
        guard let service = sources.service(named: name) else {
            throw APIError(status: 404, code: "unknown_service",
                           message: "No log service '\(name.prefix(64))'; known services: \(sources.names.joined(separator: ", ")).",
                           details: JSONObject([("services", .array(sources.names.map(JSON.string)))]))
        }
        let count = try q.integer("tail", in: 1...LogTail.maxLines, fallback: 200)
        let format = try q.choice("format", Format.self, fallback: .json)
        let level = try q.query["level"].map { raw -> LogLevelName in
            guard let l = LogLevelName(rawValue: raw) else {
                throw APIError.badRequest("invalid_parameter",
                    "Parameter 'level' must be one of \(LogLevelName.allCases.map(\.rawValue).joined(separator: ", ")), not '\(raw.prefix(64))'.")
            }
            return l
        }
        let now = UTCTime.now()
        let since = try q.query["since"].map { raw -> UTCTime in
            if let seconds = RelativeDuration.seconds(raw, maxSeconds: 90 * 86_400) { return now.adding(seconds: -seconds) }
            if let t = try? UTCTime.parse(raw) { return t }
            throw APIError.badRequest("invalid_parameter",
                "Parameter 'since' must be a duration like 30s, 5m, 2h, 7d or an RFC 3339 time, not '\(raw.prefix(64))'.")
        }
        let result = LogTail.read(service, tail: count, since: since, minimumLevel: level, now: now)
        switch format {
        case .plain:
            var text = result.lines.map(\.raw).joined(separator: "\n")
            if !text.isEmpty { text += "\n" }
            return Response(status: 200, headers: [HTTPHeader("Content-Type", "text/plain; charset=utf-8"),
                                                   HTTPHeader("Cache-Control", "no-store"),
                                                   HTTPHeader("X-Content-Type-Options", "nosniff")],
                            body: Array(text.utf8))
        case .json:
            let entries: [JSON] = result.lines.map { line in
                ["ts": .from(line.entry.ts?.iso8601), "level": .string(line.entry.level.rawValue),
                 "message": .string(line.entry.message)]
            }
            return .json(["service": .string(service.name), "format": .string(service.format.rawValue),
                          "tail": .int(Int64(count)), "files": .array(result.files.map(JSON.string)),
                          "entries": .array(entries), "warnings": .array(result.warnings.map(JSON.string))])
        }
    }
}

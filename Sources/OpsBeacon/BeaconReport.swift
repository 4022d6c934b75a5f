import OpsActivity
import OpsJSON

/// One browser error report as `frontend/beacon.js` (or any `navigator.sendBeacon` caller)
/// sends it, validated. Every string is kept as text; the dashboard renders it as text.
public struct BeaconReport: Sendable, Equatable {
    public var message: String
    public var stack: String?
    public var errorType: String?
    public var source: String?
    public var route: String          // the template (RouteTemplate), what the ring buffer is keyed by
    public var buildHash: String?
    public var browser: String?
    public var wsState: String?
    /// The browser's own clock; nil when not sent. The server's receive time is kept apart.
    public var ts: UTCTime?
    public var breadcrumbs: JSON?
    public var fingerprint: String

    public static let acceptedFields = ["message", "stack", "type", "source", "route", "build_hash", "browser",
                                        "ws_state", "ts", "breadcrumbs"]
    public static let maxBreadcrumbs = 20
    /// WebSocket.readyState numbers, for senders that pass the raw number.
    static let readyStates = ["connecting", "open", "closing", "closed"]
}

/// Why a beacon was refused: the HTTP status, the error code (also the drop counter's reason)
/// and a message for the sender.
public struct BeaconRejection: Error, Equatable, Sendable {
    public let status: Int
    public let code: String
    public let message: String
}

public enum BeaconParser {
    /// Default body cap: browsers allow 64 KiB of beacons in flight per page, so one report
    /// must leave room for others (`OPS_BEACON_MAX_BYTES`).
    public static let defaultMaxBytes = 16 * 1024

    public static func parse(_ body: [UInt8], maxBytes: Int = defaultMaxBytes) throws(BeaconRejection) -> BeaconReport {
        guard body.count <= maxBytes else {
            throw BeaconRejection(status: 413, code: "too_large",
                                  message: "A report may hold at most \(maxBytes) bytes; this one has \(body.count).")
        }
        let json: JSON
        do { json = try JSON.parse(body) } catch {
            throw BeaconRejection(status: 400, code: "invalid_json", message: "The body must be a JSON object: \(error).")
        }
        guard let object = json.objectValue else {
            throw BeaconRejection(status: 400, code: "not_object", message: "The body must be a JSON object, not \(json.typeName).")
        }
        if let unknown = object.keys.first(where: { !BeaconReport.acceptedFields.contains($0) }) {
            throw BeaconRejection(status: 400, code: "unknown_field",
                                  message: "Unknown field '\(unknown.prefix(64))'; accepted: \(BeaconReport.acceptedFields.joined(separator: ", ")).")
        }
        func string(_ key: String, max: Int) throws(BeaconRejection) -> String? {
            guard let v = object[key], !v.isNull else { return nil }
            guard let s = v.stringValue else {
                throw BeaconRejection(status: 400, code: "invalid_field", message: "'\(key)' must be a string, not \(v.typeName).")
            }
            guard s.count <= max else {
                throw BeaconRejection(status: 400, code: "invalid_field", message: "'\(key)' is longer than \(max) characters.")
            }
            return s.isEmpty ? nil : s
        }
        let message = try string("message", max: 4000)
        let stack = try string("stack", max: 12_000)
        guard let text = message ?? stack.map({ String($0.prefix(200)) }) else {
            throw BeaconRejection(status: 400, code: "invalid_field", message: "A report needs a 'message' or a 'stack'.")
        }
        let errorType = try string("type", max: 100)
        var report = BeaconReport(
            message: text, stack: stack, errorType: errorType, source: try string("source", max: 40),
            route: RouteTemplate.of(try string("route", max: 2000) ?? "/"),
            buildHash: try string("build_hash", max: 100), browser: try string("browser", max: 300),
            wsState: nil, ts: nil, breadcrumbs: nil,
            fingerprint: Fingerprint.of(message: text, stack: stack, errorType: errorType))
        if let ws = object["ws_state"], !ws.isNull {
            if let n = ws.intValue, (0..<4).contains(n) {
                report.wsState = BeaconReport.readyStates[Int(n)]
            } else if let s = ws.stringValue, s.count <= 32 {
                report.wsState = s
            } else {
                throw BeaconRejection(status: 400, code: "invalid_field",
                                      message: "'ws_state' must be a WebSocket readyState (0-3) or a short string.")
            }
        }
        if let ts = object["ts"], !ts.isNull {
            if let ms = ts.doubleValue, ts.stringValue == nil {
                guard ms > 0, ms < 32_503_680_000_000 else {
                    throw BeaconRejection(status: 400, code: "invalid_field", message: "'ts' in milliseconds is out of range.")
                }
                report.ts = UTCTime(micros: Int64(ms * 1000))
            } else if let s = ts.stringValue, let t = try? UTCTime.parse(s) {
                report.ts = t
            } else {
                throw BeaconRejection(status: 400, code: "invalid_field",
                                      message: "'ts' must be an RFC 3339 time or milliseconds since 1970.")
            }
        }
        if let crumbs = object["breadcrumbs"], !crumbs.isNull {
            guard let list = crumbs.arrayValue else {
                throw BeaconRejection(status: 400, code: "invalid_field", message: "'breadcrumbs' must be an array.")
            }
            report.breadcrumbs = .array(Array(list.suffix(BeaconReport.maxBreadcrumbs)))
        }
        return report
    }
}

/// `since=5m` style windows (`30s`, `5m`, `2h`, `7d`), capped at `maxSeconds`.
public enum RelativeDuration {
    public static func seconds(_ text: String, maxSeconds: Int64) -> Int64? {
        guard let unit = text.last, let n = Int64(text.dropLast()), n > 0 else { return nil }
        let factor: Int64
        switch unit {
        case "s": factor = 1
        case "m": factor = 60
        case "h": factor = 3600
        case "d": factor = 86_400
        default: return nil
        }
        let (v, overflow) = n.multipliedReportingOverflow(by: factor)
        guard !overflow, v <= maxSeconds else { return nil }
        return v
    }
}

import OpsHTTP

/// Validation of query parameters: unknown names and values outside the accepted set are a
/// 400 `invalid_parameter` whose message lists what would be accepted.
struct QueryParameters {
    let query: QueryString

    init(_ request: Request, allowed: Set<String>) throws {
        query = request.query
        if let unknown = query.pairs.first(where: { !allowed.contains($0.name) }) {
            throw APIError.badRequest("invalid_parameter",
                "Unknown parameter '\(unknown.name.prefix(64))'; accepted: \(allowed.sorted().joined(separator: ", ")).")
        }
    }

    /// A value from a fixed set (an enum's raw values); `fallback` when absent.
    func choice<T: RawRepresentable & CaseIterable>(_ name: String, _ type: T.Type, fallback: T?) throws -> T
    where T.RawValue == String {
        let accepted = T.allCases.map(\.rawValue).joined(separator: ", ")
        guard let raw = query[name] else {
            if let fallback { return fallback }
            throw APIError.badRequest("invalid_parameter", "Parameter '\(name)' is required; accepted: \(accepted).")
        }
        guard let value = T(rawValue: raw) else {
            throw APIError.badRequest("invalid_parameter",
                "Parameter '\(name)' must be one of \(accepted), not '\(raw.prefix(64))'.")
        }
        return value
    }

    func integer(_ name: String, in range: ClosedRange<Int>, fallback: Int) throws -> Int {
        guard let raw = query[name] else { return fallback }
        guard let v = Int(raw), range.contains(v) else {
            throw APIError.badRequest("invalid_parameter",
                "Parameter '\(name)' must be an integer from \(range.lowerBound) to \(range.upperBound), not '\(raw.prefix(64))'.")
        }
        return v
    }
}

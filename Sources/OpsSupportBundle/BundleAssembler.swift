import OpsJSON

/// Puts a support bundle together within a size cap: sections are added in order of
/// importance; a section that does not fit is cut (log sections lose their oldest lines,
/// others are replaced by a marker) instead of failing the download. The manifest lists each
/// section with its status and size.
public struct BundleAssembler {
    public let capBytes: Int
    /// Room kept for the manifest itself.
    public static let manifestReserve = 32 * 1024

    public init(capBytes: Int) { self.capBytes = capBytes }

    public enum Section {
        /// A JSON value, kept whole or replaced by a truncation marker.
        case value(String, JSON)
        /// Log lines per service (oldest first), cut from the oldest end when needed.
        case logs(String, [(service: String, meta: JSONObject, lines: [String])])
        /// A section that could not be collected.
        case unavailable(String, String)
    }

    public func assemble(_ sections: [Section], manifest base: JSONObject) -> (bundle: JSONObject, manifest: [JSON]) {
        var budget = capBytes - Self.manifestReserve
        var bundle = JSONObject()
        var entries: [JSON] = []
        for section in sections {
            switch section {
            case .unavailable(let name, let error):
                bundle[name] = ["status": "unavailable", "error": .string(error)]
                entries.append(["name": .string(name), "status": "unavailable", "error": .string(error), "bytes": 0])
            case .value(let name, let value):
                let size = value.serializedBytes().count
                if size <= budget {
                    bundle[name] = value
                    budget -= size
                    entries.append(["name": .string(name), "status": "ok", "bytes": .int(Int64(size))])
                } else {
                    let marker: JSON = ["truncated": true, "reason": .string("section of \(size) bytes left out: the bundle's cap is \(capBytes) bytes"),
                                        "bytes": .int(Int64(size))]
                    bundle[name] = marker
                    budget -= marker.serializedBytes().count
                    entries.append(["name": .string(name), "status": "truncated", "bytes": .int(Int64(size)), "kept_bytes": 0])
                }
            case .logs(let name, let services):
                var kept = services
                var value = Self.logsJSON(kept, dropped: [:])
                var size = value.serializedBytes().count
                var dropped: [String: Int] = [:]
                // Halve every service's lines until the section fits (never below zero).
                while size > budget, kept.contains(where: { !$0.lines.isEmpty }) {
                    for i in kept.indices where !kept[i].lines.isEmpty {
                        let cut = max(1, kept[i].lines.count / 2)
                        kept[i].lines.removeFirst(cut)
                        dropped[kept[i].service, default: 0] += cut
                    }
                    value = Self.logsJSON(kept, dropped: dropped)
                    size = value.serializedBytes().count
                }
                if size > budget {   // even the empty skeleton does not fit
                    value = ["truncated": true, "reason": .string("no room left under the cap of \(capBytes) bytes")]
                    size = value.serializedBytes().count
                }
                bundle[name] = value
                budget -= size
                let total = services.reduce(0) { $0 + $1.lines.count }
                let droppedTotal = dropped.values.reduce(0, +)
                entries.append(["name": .string(name), "status": droppedTotal > 0 ? "truncated" : "ok",
                                "bytes": .int(Int64(size)), "lines": .int(Int64(total - droppedTotal)),
                                "lines_dropped": .int(Int64(droppedTotal))])
            }
        }
        var manifest = base
        manifest["size_cap_bytes"] = .int(Int64(capBytes))
        manifest["sections"] = .array(entries)
        var out = JSONObject([("manifest", .object(manifest))])
        for (k, v) in bundle.entries { out[k] = v }
        return (out, entries)
    }

    static func logsJSON(_ services: [(service: String, meta: JSONObject, lines: [String])], dropped: [String: Int]) -> JSON {
        var out = JSONObject()
        for s in services {
            var o = s.meta
            var lines = s.lines.map(JSON.string)
            if let n = dropped[s.service], n > 0 {
                lines.insert(.string("[… \(n) older lines dropped to fit the bundle's size cap …]"), at: 0)
            }
            o["lines"] = .array(lines)
            out[s.service] = .object(o)
        }
        return .object(out)
    }
}

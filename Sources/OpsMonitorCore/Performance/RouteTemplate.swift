/// A route template (`/api/ops/alerts/{id}/ack`) split into literal and parameter segments.
public struct RouteTemplate: Sendable, Equatable {
    public enum Segment: Sendable, Equatable {
        case literal([UInt8])
        case parameter
    }
    public let text: String
    public let segments: [Segment]

    /// nil when `text` is not a usable template (see `problem`).
    public init?(_ text: String) {
        guard Self.problem(text) == nil else { return nil }
        self.text = text
        segments = text.split(separator: "/").map { seg in
            seg.hasPrefix("{") && seg.hasSuffix("}") ? .parameter : .literal(Array(seg.utf8))
        }
    }

    /// Why `text` cannot be a template, or nil.
    public static func problem(_ text: String) -> String? {
        guard text.hasPrefix("/") else { return "a route template must start with /" }
        guard text.utf8.count <= 200 else { return "a route template is at most 200 bytes" }
        guard !text.contains("?") && !text.contains("%") else { return "a route template holds no ? or %" }
        guard text != "static" && text != "other" else { return "static and other are reserved group names" }
        for seg in text.split(separator: "/") where seg.contains("{") || seg.contains("}") {
            guard seg.hasPrefix("{") && seg.hasSuffix("}") && seg.count > 2
                && !seg.dropFirst().dropLast().contains(where: { $0 == "{" || $0 == "}" }) else {
                return "a parameter is a whole segment such as {id}"
            }
        }
        return nil
    }
}

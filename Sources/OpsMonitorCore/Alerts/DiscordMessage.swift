import OpsJSON

/// Discord's webhook message limits (FIELD-NOTES "Discord webhooks"). Lengths are counted in
/// UTF-16 code units, as Discord's JavaScript does, which is never less than the number of
/// characters.
public enum DiscordLimits {
    public static let content = 2000
    public static let embedsPerMessage = 10
    public static let embedCharactersPerMessage = 6000
    public static let title = 256
    public static let description = 4096
    public static let fields = 25
    public static let fieldName = 256
    public static let fieldValue = 1024
    public static let footer = 2048
    public static let marker = "… (truncated)"

    /// `text` cut to `limit` with the visible marker at the end when it was longer.
    public static func truncate(_ text: String, _ limit: Int) -> String {
        guard text.utf16.count > limit else { return text }
        let room = limit - marker.utf16.count
        guard room > 0 else { return String(marker.prefix(limit)) }
        var out = ""
        var used = 0
        for ch in text {
            let n = ch.utf16.count
            if used + n > room { break }
            out.append(ch)
            used += n
        }
        return out + marker
    }

    public static func length(_ s: String) -> Int { s.utf16.count }
}

/// One embed, always within Discord's per-embed limits once `limited()`.
public struct DiscordEmbed: Sendable, Equatable {
    public struct Field: Sendable, Equatable {
        public var name: String
        public var value: String
        public var inline: Bool
        public init(_ name: String, _ value: String, inline: Bool = true) { self.name = name; self.value = value; self.inline = inline }
    }
    public var title: String
    public var description: String
    public var url: String?
    public var color: Int?
    public var fields: [Field]
    public var footer: String?
    /// ISO 8601.
    public var timestamp: String?

    public init(title: String, description: String = "", url: String? = nil, color: Int? = nil, fields: [Field] = [],
                footer: String? = nil, timestamp: String? = nil) {
        self.title = title
        self.description = description
        self.url = url
        self.color = color
        self.fields = fields
        self.footer = footer
        self.timestamp = timestamp
    }

    /// Every part cut to its limit (with the marker); fields past 25 dropped, the last one
    /// saying how many were left out. Empty field names/values become "-" (Discord refuses them).
    public func limited() -> DiscordEmbed {
        var e = self
        e.title = DiscordLimits.truncate(title, DiscordLimits.title)
        e.description = DiscordLimits.truncate(description, DiscordLimits.description)
        if fields.count > DiscordLimits.fields {
            let dropped = fields.count - (DiscordLimits.fields - 1)
            e.fields = Array(fields.prefix(DiscordLimits.fields - 1)) + [Field("…", "\(dropped) more (truncated)", inline: false)]
        }
        e.fields = e.fields.map {
            Field(DiscordLimits.truncate($0.name.isEmpty ? "-" : $0.name, DiscordLimits.fieldName),
                  DiscordLimits.truncate($0.value.isEmpty ? "-" : $0.value, DiscordLimits.fieldValue), inline: $0.inline)
        }
        e.footer = footer.map { DiscordLimits.truncate($0, DiscordLimits.footer) }
        return e
    }

    /// What counts towards the 6000 characters of a message's embeds.
    public var characterCount: Int {
        DiscordLimits.length(title) + DiscordLimits.length(description) + (footer.map(DiscordLimits.length) ?? 0)
            + fields.reduce(0) { $0 + DiscordLimits.length($1.name) + DiscordLimits.length($1.value) }
    }

    /// Cuts the description (then fields) until the embed counts at most `budget` characters.
    public func fitting(_ budget: Int) -> DiscordEmbed {
        var e = limited()
        guard e.characterCount > budget else { return e }
        let over = e.characterCount - budget
        let keep = max(0, DiscordLimits.length(e.description) - over)
        e.description = keep >= DiscordLimits.marker.utf16.count ? DiscordLimits.truncate(e.description, keep) : ""
        while e.characterCount > budget, !e.fields.isEmpty { e.fields.removeLast() }
        if e.characterCount > budget {
            e.title = DiscordLimits.truncate(e.title, max(1, DiscordLimits.length(e.title) - (e.characterCount - budget)))
        }
        return e
    }

    public var json: JSON {
        var o = JSONObject()
        o["title"] = .string(title)
        if !description.isEmpty { o["description"] = .string(description) }
        if let url { o["url"] = .string(url) }
        if let color { o["color"] = .int(Int64(color)) }
        if !fields.isEmpty {
            o["fields"] = .array(fields.map { ["name": .string($0.name), "value": .string($0.value), "inline": .bool($0.inline)] })
        }
        if let footer { o["footer"] = ["text": .string(footer)] }
        if let timestamp { o["timestamp"] = .string(timestamp) }
        return .object(o)
    }
}

/// One webhook request: its JSON body and the outbox rows it delivers.
public struct DiscordMessage: Sendable, Equatable {
    public var rowIDs: [Int64]
    public var content: String
    public var embeds: [DiscordEmbed]

    public init(rowIDs: [Int64], content: String, embeds: [DiscordEmbed]) {
        self.rowIDs = rowIDs
        self.content = DiscordLimits.truncate(content, DiscordLimits.content)
        self.embeds = embeds
    }

    /// Mentions are never parsed: a title that contains "@everyone" pings no one.
    public var body: JSON {
        var o = JSONObject()
        o["content"] = .string(content)
        o["embeds"] = .array(embeds.map(\.json))
        o["allowed_mentions"] = ["parse": []]
        return .object(o)
    }

    /// True when the message is within every limit (the builders guarantee it; tests check it).
    public var isWithinLimits: Bool {
        DiscordLimits.length(content) <= DiscordLimits.content
            && embeds.count <= DiscordLimits.embedsPerMessage
            && embeds.reduce(0, { $0 + $1.characterCount }) <= DiscordLimits.embedCharactersPerMessage
            && embeds.allSatisfy { e in
                DiscordLimits.length(e.title) <= DiscordLimits.title && DiscordLimits.length(e.description) <= DiscordLimits.description
                    && e.fields.count <= DiscordLimits.fields
                    && e.fields.allSatisfy { DiscordLimits.length($0.name) <= DiscordLimits.fieldName && DiscordLimits.length($0.value) <= DiscordLimits.fieldValue }
                    && (e.footer.map { DiscordLimits.length($0) <= DiscordLimits.footer } ?? true)
            }
    }
}

import OpsJSON

/// Removes secrets from everything a support bundle carries. Applied to every string in the
/// bundle (log lines included) and to values under secret-looking keys. Each rule is named
/// and counted, so the bundle's manifest says what was redacted and how often.
public final class Redactor {
    public struct Rule {
        public let name: String
        public let description: String
        let regex: Regex<AnyRegexOutput>
        /// Cheap pre-check: the rule runs only on text holding one of these (lower-cased)
        /// substrings. Regexes are slow; most log lines hold no secret.
        let hints: [String]
        /// Builds the replacement from the match (keeps a prefix such as `password=`).
        let replace: (Regex<AnyRegexOutput>.Match) -> String
    }

    public static let marker = "[REDACTED]"
    public let rules: [Rule]
    public private(set) var counts: [String: Int] = [:]

    /// Key names whose values are replaced whole (case-insensitive substring match).
    public static let secretKeyWords = ["password", "passwd", "secret", "token", "api_key", "apikey", "access_key",
                                        "private_key", "authorization", "cookie", "session", "webhook", "credential"]

    public init() {
        let marker = Self.marker
        func rule(_ name: String, _ description: String, _ pattern: String, hints: [String],
                  _ replace: @escaping (Regex<AnyRegexOutput>.Match) -> String) -> Rule {
            Rule(name: name, description: description, regex: try! Regex(pattern), hints: hints, replace: replace)
        }
        func group(_ m: Regex<AnyRegexOutput>.Match, _ i: Int) -> String {
            m.output.count > i ? (m.output[i].substring.map(String.init) ?? "") : ""
        }
        rules = [
            rule("private_key_block", "PEM private key blocks",
                 #"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----"#, hints: ["private key-----"]) { _ in marker },
            rule("api_token", "Opsplane API tokens (ops_ + 64 hex)", #"ops_[0-9a-fA-F]{64}"#, hints: ["ops_"]) { _ in "ops_" + marker },
            rule("jwt", "JSON Web Tokens (three base64url parts starting eyJ)",
                 #"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}"#, hints: ["eyj"]) { _ in marker },
            rule("authorization_header", "Bearer / Basic credentials",
                 #"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}"#, hints: ["bearer", "basic"]) { m in group(m, 1) + " " + marker },
            rule("discord_webhook", "Discord webhook tokens",
                 #"(?i)(discord(?:app)?\.com/api/webhooks/\d+/)[A-Za-z0-9_-]+"#, hints: ["/webhooks/"]) { m in group(m, 1) + marker },
            rule("url_credentials", "passwords in URLs (scheme://user:password@host)",
                 #"([A-Za-z][A-Za-z0-9+.-]*://[^\s:/@"]*:)[^\s@/"]+@"#, hints: ["://"]) { m in group(m, 1) + marker + "@" },
            rule("secret_parameter", "secret-looking key=value pairs and URL parameters (password, token, secret, key, signature, …)",
                 #"(?i)\b((?:[a-z0-9_.-]*(?:password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key|private[_-]?key|signature|sig|auth|session|cookie)[a-z0-9_.-]*)\s*[=:]\s*"?)([^\s"&,;}]+)"#,
                 hints: ["password", "passwd", "pwd", "secret", "token", "key", "sig", "auth", "session", "cookie"]) { m in
                group(m, 1) + marker
            },
        ]
    }

    public var manifest: JSON {
        .array(rules.map { ["name": .string($0.name), "description": .string($0.description),
                            "matches": .int(Int64(counts[$0.name] ?? 0))] }
               + [["name": "secret_key_names",
                   "description": .string("values under keys naming a secret (" + Self.secretKeyWords.joined(separator: ", ") + ")"),
                   "matches": .int(Int64(counts["secret_key_names"] ?? 0))]])
    }

    public var total: Int { counts.values.reduce(0, +) }

    public func redact(_ text: String) -> String {
        var out = text
        let lower = text.lowercased()
        for rule in rules where rule.hints.contains(where: { lower.contains($0) }) {
            var n = 0
            out = out.replacing(rule.regex) { match in
                n += 1
                return rule.replace(match)
            }
            if n > 0 { counts[rule.name, default: 0] += n }
        }
        return out
    }

    /// Every string in `value`, and whole values under secret-looking keys.
    public func redact(_ value: JSON) -> JSON {
        switch value {
        case .string(let s): return .string(redact(s))
        case .array(let items): return .array(items.map { redact($0) })
        case .object(let object):
            var out = JSONObject()
            for (key, v) in object.entries {
                if Self.isSecretKey(key), !v.isNull, !(v.objectValue != nil || v.arrayValue != nil) {
                    counts["secret_key_names", default: 0] += 1
                    out[key] = .string(Self.marker)
                } else {
                    out[key] = redact(v)
                }
            }
            return .object(out)
        default: return value
        }
    }

    public static func isSecretKey(_ key: String) -> Bool {
        let k = key.lowercased()
        return secretKeyWords.contains { k.contains($0) }
    }
}

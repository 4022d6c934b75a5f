/// Keeps credentials out of what opsctl prints about failures: the token in use (whatever its
/// form), anything shaped like an Opsplane API token (`ops_` + 12 or more letters or digits),
/// JWTs (`eyJ….….…`) and `Bearer …` credentials.
public enum Redactor {
    public static let mark = "[redacted]"

    public static func redact(_ text: String, secrets: [String] = []) -> String {
        var out = text
        // The caller's own secrets first, longest first (one may contain another).
        for secret in secrets.filter({ $0.count >= 4 }).sorted(by: { $0.count > $1.count }) {
            out = out.replacingAll(secret, with: mark)
        }
        out = replaceTokens(in: out)
        return out
    }

    /// One line for stderr: redacted, control characters (newlines, escape sequences) as spaces.
    public static func oneLine(_ text: String, secrets: [String] = []) -> String {
        let redacted = redact(text, secrets: secrets)
        var line = ""
        line.unicodeScalars.reserveCapacity(redacted.unicodeScalars.count)
        for scalar in redacted.unicodeScalars {
            if scalar.value < 0x20 || (scalar.value >= 0x7f && scalar.value < 0xa0) {
                line.unicodeScalars.append(" ")
            } else {
                line.unicodeScalars.append(scalar)
            }
        }
        return line.trimmed
    }

    /// One pass over the scalars: `ops_` tokens, JWTs and `Bearer` credentials.
    static func replaceTokens(in text: String) -> String {
        let s = Array(text.unicodeScalars)
        var out = String.UnicodeScalarView()
        var i = 0
        func isAlnum(_ c: Unicode.Scalar) -> Bool {
            (c >= "a" && c <= "z") || (c >= "A" && c <= "Z") || (c >= "0" && c <= "9")
        }
        func isB64URL(_ c: Unicode.Scalar) -> Bool { isAlnum(c) || c == "-" || c == "_" }
        func isTokenChar(_ c: Unicode.Scalar) -> Bool { !c.properties.isWhitespace && c != "\"" && c != "'" && c != "," }
        func startsWord(_ at: Int) -> Bool { at == 0 || !isB64URL(s[at - 1]) }
        func matches(_ word: String, at: Int, caseInsensitive: Bool = false) -> Bool {
            let w = Array(word.unicodeScalars)
            guard at + w.count <= s.count else { return false }
            for k in 0..<w.count {
                let a = s[at + k], b = w[k]
                if caseInsensitive {
                    if String(a).lowercased() != String(b).lowercased() { return false }
                } else if a != b { return false }
            }
            return true
        }
        while i < s.count {
            // ops_ + at least 12 letters/digits: an API token (or a mistyped one).
            if startsWord(i), matches("ops_", at: i) {
                var j = i + 4
                while j < s.count, isAlnum(s[j]) { j += 1 }
                if j - (i + 4) >= 12 {
                    out.append(contentsOf: "ops_\(mark)".unicodeScalars)
                    i = j
                    continue
                }
            }
            // A JWT: eyJ… . … . … (the third part may be empty for alg none).
            if startsWord(i), matches("eyJ", at: i) {
                var j = i
                var dots = 0
                while j < s.count, isB64URL(s[j]) || (s[j] == "." && dots < 2) {
                    if s[j] == "." { dots += 1 }
                    j += 1
                }
                if dots == 2 {
                    out.append(contentsOf: mark.unicodeScalars)
                    i = j
                    continue
                }
            }
            // Bearer <credential>
            if startsWord(i), matches("bearer ", at: i, caseInsensitive: true) {
                var j = i + 7
                while j < s.count, s[j] == " " { j += 1 }
                var k = j
                while k < s.count, isTokenChar(s[k]) { k += 1 }
                if k > j {
                    out.append(contentsOf: s[i..<(i + 6)])
                    out.append(contentsOf: " \(mark)".unicodeScalars)
                    i = k
                    continue
                }
            }
            out.append(s[i])
            i += 1
        }
        return String(out)
    }
}

extension String {
    /// Every occurrence of `target` replaced (no Foundation needed).
    func replacingAll(_ target: String, with replacement: String) -> String {
        guard !target.isEmpty else { return self }
        let hay = Array(self.utf8), needle = Array(target.utf8)
        guard hay.count >= needle.count else { return self }
        var out: [UInt8] = []
        out.reserveCapacity(hay.count)
        var i = 0
        while i < hay.count {
            if i + needle.count <= hay.count, hay[i] == needle[0], Array(hay[i..<(i + needle.count)]) == needle {
                out.append(contentsOf: replacement.utf8)
                i += needle.count
            } else {
                out.append(hay[i])
                i += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}

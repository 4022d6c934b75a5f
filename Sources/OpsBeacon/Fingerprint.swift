/// Groups reports of the same browser error. Versioned (`v1-…`): a future rule change gets a
/// new prefix instead of silently regrouping old rows.
///
/// v1: the top three stack frames, each reduced to function name + file name (no line or
/// column numbers, no query string, no build hash in the file name, no origin), so the same
/// error groups across builds and hosts. Without usable frames: the error type and the
/// message with numbers, hex ids, UUIDs and quoted values replaced, so "Item 4411 not found"
/// and "Item 97 not found" group together.
public enum Fingerprint {
    public static let version = "v1"
    public static let framesUsed = 3

    public static func of(message: String, stack: String?, errorType: String?) -> String {
        let frames = stack.map(topFrames) ?? []
        let basis: String
        if !frames.isEmpty {
            basis = "frames\n" + frames.joined(separator: "\n")
        } else {
            basis = "message\n\(errorType ?? "")\n\(normalisedMessage(message))"
        }
        return "\(version)-\(hex(fnv1a64(basis)))"
    }

    /// The first `framesUsed` frames of a Chrome (`    at fn (url:1:2)`) or Firefox/Safari
    /// (`fn@url:1:2`) stack, as `fn@file`.
    public static func topFrames(_ stack: String) -> [String] {
        asciiTopFrames(stack) ?? characterTopFrames(stack)
    }

    /// `topFrames` on Characters: the definition, for stacks `asciiTopFrames` does not take.
    static func characterTopFrames(_ stack: String) -> [String] {
        var out: [String] = []
        for raw in stack.split(whereSeparator: { $0 == "\n" || $0 == "\r" }) {
            guard out.count < framesUsed else { break }
            let line = raw.trimmingSpaces()
            var function = ""
            var location = ""
            if line.hasPrefix("at ") {
                let rest = line.dropFirst(3)
                if let open = rest.lastIndex(of: "("), rest.hasSuffix(")") {
                    function = String(rest[..<open]).trimmingSpaces()
                    location = String(rest[rest.index(after: open)..<rest.index(before: rest.endIndex)])
                } else {
                    location = String(rest)
                }
            } else if let at = line.firstIndex(of: "@") {
                function = String(line[..<at])
                location = String(line[line.index(after: at)...])
            } else {
                continue   // the message line ("TypeError: x is undefined") or noise
            }
            let file = fileName(location)
            guard !file.isEmpty || !function.isEmpty else { continue }
            out.append("\(function.isEmpty ? "<anonymous>" : function)@\(file)")
        }
        return out
    }

    /// `https://host/assets/app.3f9a12bc.js?v=2:10:5` → `app.js`.
    static func fileName(_ location: String) -> String {
        var s = Substring(location)
        // Strip :line:col from the end.
        for _ in 0..<2 {
            if let colon = s.lastIndex(of: ":"), s[s.index(after: colon)...].allSatisfy(\.isNumber), colon != s.startIndex,
               !s[s.index(after: colon)...].isEmpty {
                s = s[..<colon]
            }
        }
        if let q = s.firstIndex(where: { $0 == "?" || $0 == "#" }) { s = s[..<q] }
        if let slash = s.lastIndex(of: "/") { s = s[s.index(after: slash)...] }
        // Drop build hashes: parts of the name made of 6+ hex digits or digits (app.3f9a12bc.js, chunk-8812.js).
        let parts = s.split(separator: ".", omittingEmptySubsequences: false).map { part -> Substring in
            if let dash = part.lastIndex(of: "-"), isHashLike(part[part.index(after: dash)...]) { return part[..<dash] }
            return part
        }.filter { !isHashLike($0) }
        return parts.joined(separator: ".")
    }

    static func isHashLike(_ s: Substring) -> Bool {
        s.count >= 6 && s.allSatisfy(\.isHexDigit) && s.contains(where: \.isNumber)
    }

    /// Numbers, hex ids (8+ hex digits), UUIDs and quoted values replaced with placeholders.
    /// Works on words (runs of letters, digits, `_` and `-`): a word made only of hex digits and
    /// dashes with at least one digit is an id or a number; any other word is kept, so
    /// "h264" stays.
    public static func normalisedMessage(_ message: String) -> String {
        let chars = Array(message.prefix(500))
        var out = ""
        var i = 0
        while i < chars.count {
            let c = chars[i]
            if c == "\"" || c == "'" || c == "`", let end = chars[(i + 1)...].firstIndex(of: c) {
                out += "<str>"
                i = end + 1
                continue
            }
            guard isWordCharacter(c) else { out.append(c); i += 1; continue }
            var j = i
            while j < chars.count, isWordCharacter(chars[j]) { j += 1 }
            let word = chars[i..<j]
            if word.contains(where: \.isNumber), word.allSatisfy({ $0.isHexDigit || $0 == "-" }) {
                out += word.filter(\.isHexDigit).count >= 8 ? "<id>" : "<n>"
            } else {
                out += String(word)
            }
            i = j
        }
        return out
    }

    static func isWordCharacter(_ c: Character) -> Bool { c.isLetter || c.isNumber || c == "_" || c == "-" }

    static func fnv1a64(_ s: String) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in s.utf8 { h ^= UInt64(b); h = h &* 0x0000_0100_0000_01b3 }
        return h
    }

    static func hex(_ v: UInt64) -> String {
        let s = String(v, radix: 16)
        return String(repeating: "0", count: 16 - s.count) + s
    }
}

extension StringProtocol {
    func trimmingSpaces() -> String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" { s = s.dropLast() }
        return String(s)
    }
}

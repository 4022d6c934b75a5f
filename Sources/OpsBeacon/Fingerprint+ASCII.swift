/// `Fingerprint.topFrames` on UTF-8 bytes, for the usual stack: ASCII without a CR LF pair.
/// There every byte is one Character (only CR LF joins two ASCII bytes into one grapheme), so
/// the byte rules below are the Character rules of `characterTopFrames` and give the same
/// frames, without the cost of grapheme breaking (most of a report's parsing time). Any other
/// stack returns nil and goes the Character way.
extension Fingerprint {
    static func asciiTopFrames(_ stack: String) -> [String]? {
        var stack = stack
        return stack.withUTF8 { bytes -> [String]? in
            var previousCR = false
            for b in bytes {
                if b >= 0x80 || (previousCR && b == lf) { return nil }
                previousCR = b == cr
            }
            var out: [String] = []
            var start = 0
            while start < bytes.count, out.count < framesUsed {
                var end = start
                while end < bytes.count, bytes[end] != lf, bytes[end] != cr { end += 1 }
                if let frame = frame(bytes, start, end) { out.append(frame) }
                start = end + 1
            }
            return out
        }
    }

    private static let lf = UInt8(ascii: "\n"), cr = UInt8(ascii: "\r")
    private static let space = UInt8(ascii: " "), tab = UInt8(ascii: "\t")

    /// One line `[start, end)` as `fn@file`, or nil for a line that is no frame.
    private static func frame(_ b: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> String? {
        let line = trimmed(b, start, end)
        var s = line.0
        let e = line.1
        var function: (Int, Int) = (0, 0)
        var location: (Int, Int)
        if e - s >= 3, b[s] == UInt8(ascii: "a"), b[s + 1] == UInt8(ascii: "t"), b[s + 2] == space {
            s += 3
            if e > s, b[e - 1] == UInt8(ascii: ")"), let open = lastIndex(b, s, e, of: UInt8(ascii: "(")) {
                function = trimmed(b, s, open)
                location = (open + 1, e - 1)
            } else {
                location = (s, e)
            }
        } else if let at = firstIndex(b, s, e, where: { $0 == UInt8(ascii: "@") }) {
            function = (s, at)  // not trimmed, as in the Character rules
            location = (at + 1, e)
        } else {
            return nil
        }
        let file = fileName(b, location.0, location.1)
        let hasFunction = function.1 > function.0
        guard !file.isEmpty || hasFunction else { return nil }
        let name = hasFunction ? String(decoding: UnsafeBufferPointer(rebasing: b[function.0..<function.1]), as: UTF8.self)
                               : "<anonymous>"
        return name + "@" + file
    }

    /// `fileName` on bytes `[start, end)`.
    private static func fileName(_ b: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> String {
        var e = end
        for _ in 0..<2 {
            if let colon = lastIndex(b, start, e, of: UInt8(ascii: ":")), colon != start, colon + 1 < e,
               (colon + 1..<e).allSatisfy({ isDigit(b[$0]) }) {
                e = colon
            }
        }
        if let q = firstIndex(b, start, e, where: { $0 == UInt8(ascii: "?") || $0 == UInt8(ascii: "#") }) { e = q }
        var s = start
        if let slash = lastIndex(b, start, e, of: UInt8(ascii: "/")) { s = slash + 1 }
        var parts: [String] = []
        var p = s
        while true {
            var q = p
            while q < e, b[q] != UInt8(ascii: ".") { q += 1 }
            var partEnd = q
            if let dash = lastIndex(b, p, q, of: UInt8(ascii: "-")), isHashLike(b, dash + 1, q) { partEnd = dash }
            if !isHashLike(b, p, partEnd) {
                parts.append(String(decoding: UnsafeBufferPointer(rebasing: b[p..<partEnd]), as: UTF8.self))
            }
            if q >= e { break }
            p = q + 1
        }
        return parts.joined(separator: ".")
    }

    private static func isHashLike(_ b: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> Bool {
        guard end - start >= 6 else { return false }
        var digit = false
        for i in start..<end {
            let c = b[i]
            if isDigit(c) { digit = true; continue }
            guard (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "f")) || (c >= UInt8(ascii: "A") && c <= UInt8(ascii: "F")) else {
                return false
            }
        }
        return digit
    }

    private static func isDigit(_ c: UInt8) -> Bool { c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") }

    private static func trimmed(_ b: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> (Int, Int) {
        var s = start, e = end
        while s < e, b[s] == space || b[s] == tab { s += 1 }
        while e > s, b[e - 1] == space || b[e - 1] == tab { e -= 1 }
        return (s, e)
    }

    private static func lastIndex(_ b: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int, of c: UInt8) -> Int? {
        var i = end - 1
        while i >= start { if b[i] == c { return i }; i -= 1 }
        return nil
    }

    private static func firstIndex(_ b: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int, where match: (UInt8) -> Bool) -> Int? {
        var i = start
        while i < end { if match(b[i]) { return i }; i += 1 }
        return nil
    }
}

/// A compact table for people: a header row, columns separated by two spaces and padded to the
/// widest cell, numbers right-aligned, no trailing spaces. Cells are made safe for a terminal:
/// text that came from outside (log lines, agent names, browser errors) cannot move the cursor,
/// change colours or break a row.
public struct PlainTable: Equatable, Sendable {
    public var headers: [String]
    public var rows: [[String]]
    /// Columns aligned to the right (counts, durations, money).
    public var rightAligned: Set<Int>

    public init(headers: [String], rows: [[String]] = [], rightAligned: Set<Int> = []) {
        self.headers = headers
        self.rows = rows
        self.rightAligned = rightAligned
    }

    public mutating func add(_ row: [String]) { rows.append(row) }

    /// The table as lines joined by "\n", with a final newline.
    public func render() -> String {
        let columns = headers.count
        let cells: [[String]] = ([headers] + rows).map { row in
            (0..<columns).map { $0 < row.count ? PlainTable.safe(row[$0]) : "" }
        }
        var widths = [Int](repeating: 0, count: columns)
        for row in cells {
            for (c, cell) in row.enumerated() { widths[c] = max(widths[c], PlainTable.width(cell)) }
        }
        var out = ""
        for row in cells {
            var line = ""
            for (c, cell) in row.enumerated() {
                let pad = widths[c] - PlainTable.width(cell)
                let last = c == columns - 1
                if c > 0 { line += "  " }
                if rightAligned.contains(c) {
                    line += String(repeating: " ", count: pad) + cell
                } else {
                    line += cell
                    if !last { line += String(repeating: " ", count: pad) }
                }
            }
            while line.last == " " { line.removeLast() }
            out += line + "\n"
        }
        return out
    }

    /// Control characters become visible escapes (`\n`, `\t`) or U+FFFD, so that a cell stays on
    /// its row and cannot send terminal escape sequences.
    public static func safe(_ text: String) -> String {
        var out = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            switch scalar.value {
            case 0x0a: out.append(contentsOf: "\\n".unicodeScalars)
            case 0x0d: out.append(contentsOf: "\\r".unicodeScalars)
            case 0x09: out.append(" ")
            case 0x00..<0x20, 0x7f..<0xa0, 0x2028, 0x2029, 0x202a...0x202e, 0x2066...0x2069:
                out.append("\u{FFFD}")
            default: out.append(scalar)
            }
        }
        return String(out)
    }

    /// Display width: characters, with East Asian wide characters and most emoji counted twice.
    public static func width(_ text: String) -> Int {
        var w = 0
        for ch in text {
            guard let first = ch.unicodeScalars.first else { continue }
            let v = first.value
            let wide = (v >= 0x1100 && v <= 0x115f) || (v >= 0x2e80 && v <= 0xa4cf) || (v >= 0xac00 && v <= 0xd7a3)
                || (v >= 0xf900 && v <= 0xfaff) || (v >= 0xfe30 && v <= 0xfe4f) || (v >= 0xff00 && v <= 0xff60)
                || (v >= 0xffe0 && v <= 0xffe6) || (v >= 0x1f300 && v <= 0x1faff) || (v >= 0x20000 && v <= 0x3fffd)
            w += wide ? 2 : 1
        }
        return w
    }
}

/// Label/value pairs as two aligned columns (no header row): the scalar part of a view.
public struct KeyValueBlock: Sendable {
    public var pairs: [(String, String)] = []
    public init() {}
    public mutating func add(_ key: String, _ value: String) { pairs.append((key, value)) }

    public func render() -> String {
        let width = pairs.map { PlainTable.width(PlainTable.safe($0.0)) }.max() ?? 0
        var out = ""
        for (k, v) in pairs {
            let key = PlainTable.safe(k)
            var line = key + String(repeating: " ", count: width - PlainTable.width(key)) + "  " + PlainTable.safe(v)
            while line.last == " " { line.removeLast() }
            out += line + "\n"
        }
        return out
    }
}

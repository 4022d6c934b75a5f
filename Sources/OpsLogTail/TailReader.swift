#if canImport(Glibc)
import Glibc
#endif

/// Reads the last lines of a file from its end, in blocks, never the whole file: the cost
/// depends on the lines wanted, not on the file's size.
public struct TailReader {
    public static let blockSize = 64 * 1024
    /// Longest line kept; longer ones are cut with a marker.
    public static let maxLineBytes = 16 * 1024

    public struct Chunk {
        /// Oldest first, without newlines.
        public var lines: [String]
        /// True when the reader reached the start of the file.
        public var reachedStart: Bool
        public var bytesRead: Int
    }

    /// Up to `count` lines from the end of `path`, newest last, going back at most `maxBytes`;
    /// `keep` decides which lines count (the level and since filters) and may stop the walk
    /// (`.stop`: this line and everything older is out, e.g. older than `since`).
    public enum Verdict { case keep, skip, stop }

    public static func lastLines(path: String, count: Int, maxBytes: Int,
                                 keep: (String) -> Verdict = { _ in .keep }) -> Chunk? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { return nil }
        var position = Int(st.st_size)
        var kept: [String] = []          // newest first while collecting
        var partial: [UInt8] = []        // bytes of the line being assembled (reversed order of blocks)
        var bytesRead = 0
        var first = true
        var stopped = false
        var buffer = [UInt8](repeating: 0, count: blockSize)

        func emit(_ bytes: ArraySlice<UInt8>) -> Bool {   // false: stop
            var b = Array(bytes)
            if b.last == 13 { b.removeLast() }   // CRLF
            var text: String
            if b.count > maxLineBytes {
                text = String(decoding: b.prefix(maxLineBytes), as: UTF8.self) + " …(line cut at \(maxLineBytes) bytes)"
            } else {
                text = String(decoding: b, as: UTF8.self)
            }
            switch keep(text) {
            case .keep: kept.append(text)
            case .skip: break
            case .stop: return false
            }
            text = ""
            return kept.count < count
        }

        outer: while position > 0, bytesRead < maxBytes, kept.count < count {
            let size = min(blockSize, position)
            position -= size
            let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, size, off_t(position)) }
            guard n == size else { break }
            bytesRead += n
            var end = size
            // The file's last byte is a newline: it ends the last line, it does not start an empty one.
            if first { first = false; if end > 0, buffer[end - 1] == 10 { end -= 1 } }
            var i = end - 1
            while i >= 0 {
                if buffer[i] == 10 {
                    var full = Array(buffer[(i + 1)..<end])
                    if !partial.isEmpty { full += partial; partial = [] }
                    if !emit(full[...]) { stopped = true; break outer }
                    end = i
                }
                i -= 1
            }
            // The block's first bytes belong to a line that started further back.
            if end > 0 { partial = Array(buffer[0..<end]) + partial }
            // A giant line: keep its beginning (what is shown), bounded in memory.
            if partial.count > maxLineBytes * 4 { partial = Array(partial.prefix(maxLineBytes * 4)) }
        }
        let reachedStart = position == 0 && !stopped
        if reachedStart, kept.count < count, !partial.isEmpty, bytesRead <= maxBytes {
            if !emit(partial[...]) { return Chunk(lines: kept.reversed(), reachedStart: false, bytesRead: bytesRead) }
        }
        return Chunk(lines: kept.reversed(), reachedStart: reachedStart && !stopped, bytesRead: bytesRead)
    }
}

#if canImport(Glibc)
import Glibc
#endif

/// Splits what the tail reads into complete lines. A chunk is read at the cursor; only bytes
/// through its last newline are consumed, so a line nginx is still writing (no newline yet)
/// is read again, whole, on the next poll: the cursor always sits at the start of a line.
/// A "line" longer than a whole chunk (not an access log, or garbage) is skipped to its
/// newline and counted once as bad, so it can neither stall the tail nor fill memory.
public struct LineChunker: Sendable {
    /// True while inside an oversized line whose start was already skipped.
    public private(set) var skipping = false

    public init() {}

    /// Feeds one chunk read at the cursor. `full` says the read filled the whole buffer (more
    /// may follow). Calls `line` for each complete line (without its newline) and `oversized`
    /// when a line is given up. Returns the number of bytes consumed.
    public mutating func consume(_ chunk: UnsafeRawBufferPointer, full: Bool,
                                 line: (UnsafeRawBufferPointer) -> Void, oversized: () -> Void) -> Int {
        let newline = UInt8(ascii: "\n")
        guard let base = chunk.baseAddress, let last = chunk.lastIndex(of: newline) else {
            if full {
                if !skipping { oversized() }
                skipping = true
                return chunk.count
            }
            return 0
        }
        var start = 0
        while start <= last {
            // memchr: several times faster than a generic search over the buffer.
            let end = memchr(base + start, Int32(newline), last + 1 - start)! - UnsafeMutableRawPointer(mutating: base)
            if skipping {
                skipping = false
            } else {
                line(UnsafeRawBufferPointer(rebasing: chunk[start..<end]))
            }
            start = end + 1
        }
        return last + 1
    }

    /// Forgets an oversized line in progress (the tail moved to another file or offset).
    public mutating func reset() { skipping = false }

    /// Discards everything up to the next newline (the tail starts in the middle of a line).
    public mutating func skipToNextLine() { skipping = true }
}

/// The last bytes before the cursor. When the file at the same inode no longer holds them
/// there, it was truncated and refilled (copytruncate) even if it already grew past the
/// cursor again; and a rotated copy that holds them at the cursor is the file to finish.
public struct TailFingerprint: Equatable, Sendable {
    public static let length = 64
    public private(set) var bytes: [UInt8] = []

    public init() {}

    /// After consuming `consumed` (the bytes just before the new cursor).
    public mutating func advance(_ consumed: UnsafeRawBufferPointer) {
        if consumed.count >= Self.length {
            bytes = Array(consumed.suffix(Self.length))
        } else {
            bytes = Array((bytes + Array(consumed)).suffix(Self.length))
        }
    }

    public mutating func reset() { bytes = [] }
    public var isEmpty: Bool { bytes.isEmpty }
}

/// Where the tail starts in a file it has no cursor for.
public enum TailStart {
    /// `backlogBytes` before the end, or 0. Unless it is 0 the caller skips to the start of
    /// the next line (the byte before it must be a newline).
    public static func firstOffset(size: Int64, backlogBytes: Int64) -> Int64 {
        max(0, size - max(0, backlogBytes))
    }
}

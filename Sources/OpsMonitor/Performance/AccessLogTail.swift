import OpsMonitorCore
#if canImport(Glibc)
import Glibc
#endif

/// Where the tail stands: a file (device and inode) and the byte offset of the next line.
struct TailCursor: Equatable, CustomStringConvertible {
    var identity: FileIdentity
    var offset: Int64
    var description: String { "\(identity)@\(offset)" }
}

/// Something the operator should know about the tail (logged; warnings also go to
/// ops.system_errors).
struct TailEvent {
    let type: String
    let message: String
    let warning: Bool
}

/// Reads an nginx access log incrementally into a `MinuteAggregator`, from a cursor, through
/// rotations. No database: the component decides when the counts and the cursor are saved.
///
/// - A line is counted when its newline has been written; a partial last line is read again
///   on the next poll (the cursor always sits at the start of a line).
/// - Rotation by rename (the path names a new inode): the old file is read to its end and
///   then, once it has not grown for `rotationGraceSeconds` (nginx keeps writing to it until
///   it reopens its logs), the new file is read from 0.
/// - copytruncate (same inode, but smaller than the cursor, or no longer holding the bytes
///   just before the cursor): the rest of the copy (a sibling file holding those bytes at the
///   cursor, e.g. access.log.1) is read, then the truncated file from 0.
/// - A restart with a cursor on a file that was rotated away finds it next to the path by
///   its inode and finishes it first.
/// - A missing file is reported once and looked for again on every poll.
final class AccessLogTail {
    let path: String
    let backlogBytes: Int64
    let rotationGraceSeconds: Double
    var aggregator: MinuteAggregator

    private(set) var file: LogFile?
    private(set) var offset: Int64 = 0
    /// Totals since this tail started (for the "caught up" log line and the benchmark).
    private(set) var bytesConsumed: Int64 = 0
    private(set) var linesConsumed: Int64 = 0
    /// A saved cursor whose file is not open yet.
    private var pending: TailCursor?
    private var chunker = LineChunker()
    private var fingerprint = TailFingerprint()
    /// When the path was first seen naming another file than the one being read, and the
    /// read file's size then: it is finished once its size stayed put for the grace period.
    private var rotation: (seenAt: Double, size: Int64)?
    private var missingReported = false
    private var events: [TailEvent] = []
    private let buffer: UnsafeMutableRawBufferPointer

    init(path: String, backlogBytes: Int64, grouper: RouteGrouper, chunkBytes: Int = 1 << 20,
         rotationGraceSeconds: Double = 2) {
        self.path = path
        self.backlogBytes = backlogBytes
        self.rotationGraceSeconds = rotationGraceSeconds
        self.aggregator = MinuteAggregator(grouper: grouper)
        buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: chunkBytes, alignment: 16)
    }

    deinit { buffer.deallocate() }

    /// Where a restarted tail would continue (nil: no file seen yet and no saved cursor).
    var cursor: TailCursor? { file.map { TailCursor(identity: $0.identity, offset: offset) } ?? pending }

    func takeEvents() -> [TailEvent] {
        defer { events.removeAll() }
        return events
    }

    /// Starts from the cursor saved with the counts (nil: never tailed this path).
    func start(from saved: TailCursor?) {
        pending = saved
        resolve()
    }

    /// Reads what is new, at most about `budget` bytes; true when it stopped with more to read.
    func poll(budget: Int, now: Double) -> Bool {
        if file == nil {
            resolve()
            if file == nil { return false }
        }
        switch readFile(budget: budget) {
        case .more: return true
        case .truncated: handleTruncation(file!); return true
        case .end: checkPath(now: now); return false
        }
    }

    // MARK: opening

    private func note(_ type: String, _ message: String, warning: Bool = true) {
        events.append(TailEvent(type: type, message: message, warning: warning))
    }

    private func use(_ f: LogFile, at position: Int64) {
        file = f
        offset = position
        pending = nil
        rotation = nil
        chunker.reset()
        fingerprint.reset()
        missingReported = false
    }

    private func open(_ p: String) -> LogFile? {
        switch LogFile.open(p) {
        case .success(let f): return f
        case .failure(let e):
            if !missingReported { note("missing", "access log not readable (\(e)); looking again every poll") }
            missingReported = true
            return nil
        }
    }

    /// Opens the file to read: the saved cursor's (at the path, or rotated next to it) or the path's.
    private func resolve() {
        let current = LogFile.identify(path)
        if let saved = pending {
            if let current, current.identity == saved.identity {
                guard let f = open(path) else { return }
                let size = f.size
                if saved.offset > size {
                    note("truncated", "\(path) is shorter (\(size) bytes) than the saved cursor (\(saved.offset)): truncated while the tail was stopped; reading it from the start")
                    use(f, at: 0)
                } else if saved.offset > 0, f.bytes(at: saved.offset - 1, count: 1) != [UInt8(ascii: "\n")] {
                    note("truncated", "\(path) no longer has a line start at the saved cursor (\(saved.offset)): rewritten while the tail was stopped; reading it from the start")
                    use(f, at: 0)
                } else {
                    use(f, at: saved.offset)
                }
                return
            }
            for sibling in LogFile.siblings(of: path) where LogFile.identify(sibling)?.identity == saved.identity {
                guard let f = open(sibling) else { continue }
                note("rotated", "continuing the rotated file \(sibling) at byte \(saved.offset) before \(path)", warning: false)
                use(f, at: min(saved.offset, f.size))
                return
            }
            guard current != nil, let f = open(path) else {
                if !missingReported { note("missing", "access log \(path) does not exist; looking again every poll") }
                missingReported = true
                return
            }
            note("cursor_lost", "the file of the saved cursor (\(saved)) is gone (rotated and removed or compressed); lines after the cursor in it are not counted. Reading \(path) from the start")
            use(f, at: 0)
            return
        }
        guard current != nil, let f = open(path) else {
            if !missingReported { note("missing", "access log \(path) does not exist; looking again every poll") }
            missingReported = true
            return
        }
        let size = f.size
        let start = TailStart.firstOffset(size: size, backlogBytes: backlogBytes)
        use(f, at: start)
        if start > 0 && f.bytes(at: start - 1, count: 1) != [UInt8(ascii: "\n")] { chunker.skipToNextLine() }
        note("first_start", "no saved cursor for \(path): reading from byte \(start) of \(size) (backlog_mb)", warning: false)
    }

    // MARK: reading

    enum ReadOutcome { case more, end, truncated }

    /// Reads complete lines from the open file. Every read starts with the fingerprint (the
    /// bytes just before the cursor) and checks it in the same pread, so a file truncated and
    /// refilled in place is noticed before a byte of its new content is counted at the old
    /// offset.
    private func readFile(budget: Int) -> ReadOutcome {
        guard let f = file else { return .end }
        var total = 0
        while total < budget {
            let mark = fingerprint.bytes
            let n = f.read(at: offset - Int64(mark.count), into: buffer)
            if n < 0 {
                note("read_error", "reading \(f.openedAs) failed: \(String(cString: strerror(errno)))")
                return .end
            }
            if !mark.isEmpty {
                guard n >= mark.count, UnsafeRawBufferPointer(rebasing: buffer[0..<mark.count]).elementsEqual(mark) else {
                    return .truncated
                }
            }
            if n == mark.count { return .end }
            let chunk = UnsafeRawBufferPointer(rebasing: buffer[mark.count..<n])
            let used = chunker.consume(chunk, full: n == buffer.count,
                                       line: { aggregator.add(line: $0); linesConsumed += 1 },
                                       oversized: { aggregator.countBadLine("(a line longer than \(buffer.count) bytes)") })
            if used == 0 { return .end }
            fingerprint.advance(UnsafeRawBufferPointer(rebasing: chunk[0..<used]))
            offset += Int64(used)
            bytesConsumed += Int64(used)
            total += used
            if n < buffer.count { return .end }
        }
        return .more
    }

    /// The bytes after the last newline of a file that is finished (rotated away): a line
    /// nginx never completed. Counted if it parses, else as a bad line.
    private func finishLeftover(_ f: LogFile) {
        let size = f.size
        guard offset < size else { return }
        if !chunker.skipping, size - offset <= Int64(buffer.count), let rest = f.bytes(at: offset, count: Int(size - offset)) {
            rest.withUnsafeBytes { _ = aggregator.add(line: $0) }
        } else {
            aggregator.countBadLine("(an unfinished line at the end of \(f.openedAs))")
        }
        offset = size
    }

    // MARK: rotation

    private func checkPath(now: Double) {
        guard let f = file else { return }
        let current = LogFile.identify(path)
        if let current, current.identity == f.identity {
            rotation = nil
            // Shorter than the cursor: truncated (the fingerprint check in readFile sees a
            // refilled file; this sees one that is still short, or a cursor without fingerprint).
            if f.size < offset { handleTruncation(f) }
            return
        }
        // The path is gone or names a new file: ours was renamed (or removed). Finish it once
        // nginx has stopped writing to it, then move on to the new file.
        let size = f.size
        guard let r = rotation, r.size == size else {
            rotation = (now, size)
            return
        }
        guard now - r.seenAt >= rotationGraceSeconds else { return }
        guard current != nil, let next = open(path) else { return } // wait for the new file
        finishLeftover(f)
        note("rotated", "finished \(f.openedAs) (inode \(f.identity.inode), \(offset) bytes); reading the new \(path) from the start", warning: false)
        use(next, at: 0)
    }

    /// Same inode, but truncated in place (copytruncate): finish the copy, then read from 0.
    private func handleTruncation(_ f: LogFile) {
        var from = "no rotated copy holds the lines after the cursor (lines written between the last read and the truncation are not counted)"
        if !fingerprint.isEmpty {
            let mark = offset - Int64(fingerprint.bytes.count)
            for sibling in LogFile.siblings(of: path) {
                guard let st = LogFile.identify(sibling), st.identity != f.identity, st.size >= offset,
                      case .success(let copy) = LogFile.open(sibling),
                      copy.bytes(at: mark, count: fingerprint.bytes.count) == fingerprint.bytes else { continue }
                let resumeAt = offset
                file = copy
                while readFile(budget: Int.max) == .more {}
                finishLeftover(copy)
                from = "read the rest of the copy \(sibling) from byte \(resumeAt) to \(offset)"
                break
            }
        }
        note("truncated", "\(path) was truncated in place (copytruncate): \(from); reading it from the start", warning: false)
        use(f, at: 0)
    }
}

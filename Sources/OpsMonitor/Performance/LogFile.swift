#if canImport(Glibc)
import Glibc
#endif

/// A file's identity: rotation by rename gives the path a new inode.
struct FileIdentity: Equatable, CustomStringConvertible {
    let device: UInt64
    let inode: UInt64
    var description: String { "\(device):\(inode)" }
}

/// A log file opened read-only. Reads with pread at explicit offsets, so the descriptor has
/// no position to get wrong, and keeps reading the same inode after it was renamed.
final class LogFile {
    let fd: Int32
    let identity: FileIdentity
    /// The path it was opened by (it may have been renamed since).
    let openedAs: String

    private init(fd: Int32, identity: FileIdentity, openedAs: String) {
        self.fd = fd
        self.identity = identity
        self.openedAs = openedAs
    }

    deinit { close(fd) }

    /// nil with errno's text when the file cannot be opened (missing, permissions).
    static func open(_ path: String) -> Result<LogFile, LogFileError> {
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return .failure(LogFileError(path: path, errno: errno)) }
        var st = Glibc.stat()
        guard fstat(fd, &st) == 0 else {
            let e = errno
            close(fd)
            return .failure(LogFileError(path: path, errno: e))
        }
        guard (st.st_mode & S_IFMT) == S_IFREG else {
            close(fd)
            return .failure(LogFileError(path: path, errno: EISDIR))
        }
        return .success(LogFile(fd: fd, identity: FileIdentity(device: UInt64(st.st_dev), inode: UInt64(st.st_ino)), openedAs: path))
    }

    /// The current size (the file may grow or be truncated at any time).
    var size: Int64 {
        var st = Glibc.stat()
        return fstat(fd, &st) == 0 ? Int64(st.st_size) : 0
    }

    /// Reads up to `buffer.count` bytes at `offset`; 0 at the end, -1 on an error.
    func read(at offset: Int64, into buffer: UnsafeMutableRawBufferPointer) -> Int {
        while true {
            let n = pread(fd, buffer.baseAddress, buffer.count, off_t(offset))
            if n < 0 && errno == EINTR { continue }
            return n
        }
    }

    /// Exactly `count` bytes at `offset`, or nil.
    func bytes(at offset: Int64, count: Int) -> [UInt8]? {
        guard offset >= 0, count > 0 else { return count == 0 ? [] : nil }
        var out = [UInt8](repeating: 0, count: count)
        let n = out.withUnsafeMutableBytes { read(at: offset, into: $0) }
        return n == count ? out : nil
    }

    /// Identity and size of whatever `path` names now (following symlinks), nil when absent.
    static func identify(_ path: String) -> (identity: FileIdentity, size: Int64)? {
        var st = Glibc.stat()
        guard stat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { return nil }
        return (FileIdentity(device: UInt64(st.st_dev), inode: UInt64(st.st_ino)), Int64(st.st_size))
    }

    /// Regular files next to `path` (same directory, not `path` itself): where logrotate
    /// leaves `access.log.1` or `access.log-20260101`. Compressed ones cannot be read.
    static func siblings(of path: String) -> [String] {
        let slash = path.lastIndex(of: "/")
        let dir = slash.map { $0 == path.startIndex ? "/" : String(path[..<$0]) } ?? "."
        let base = slash.map { String(path[path.index(after: $0)...]) } ?? path
        guard let d = opendir(dir) else { return [] }
        defer { closedir(d) }
        var names: [String] = []
        while let entry = readdir(d) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            guard name != base, name != ".", name != ".." else { continue }
            if [".gz", ".bz2", ".xz", ".zst", ".lz4", ".zip"].contains(where: { name.hasSuffix($0) }) { continue }
            names.append(dir == "/" ? "/" + name : dir + "/" + name)
        }
        // Likely names first: those that start with the log's own name, newest rotation first.
        return names.sorted { a, b in
            let ra = a.hasPrefix(dir + "/" + base), rb = b.hasPrefix(dir + "/" + base)
            return ra != rb ? ra : a < b
        }
    }
}

struct LogFileError: Error, CustomStringConvertible {
    let path: String
    let errno: Int32
    var description: String { "\(path): \(String(cString: strerror(errno)))" }
}

import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A TCP connection for the tcp and redis probes: non-blocking connect with poll(2), every
/// read and write bounded by one deadline, so a probe never waits past its timeout_ms.
final class ProbeSocket {
    enum Failure: Error, CustomStringConvertible {
        case resolve(String)
        case connect(String)
        case io(String)
        case timedOut(String)
        case closed

        var description: String {
            switch self {
            case .resolve(let m): return "resolve: \(m)"
            case .connect(let m): return "connect: \(m)"
            case .io(let m): return m
            case .timedOut(let m): return "timed out \(m)"
            case .closed: return "connection closed by the server"
            }
        }
        var isTimeout: Bool { if case .timedOut = self { return true }; return false }
    }

    private(set) var fd: Int32 = -1
    let deadline: Double

    /// Connects to host:port before `deadline` (monotonic seconds, see `ProbeClock`).
    init(host: String, port: Int, deadline: Double) throws {
        self.deadline = deadline
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        // Name lookup cannot be bounded by poll; targets are normally addresses or /etc/hosts names.
        let rc = getaddrinfo(host, String(port), &hints, &list)
        guard rc == 0, let first = list else {
            throw Failure.resolve(String(cString: gai_strerror(rc)))
        }
        defer { freeaddrinfo(list) }
        var lastError = Failure.connect("no address for \(host)")
        var ai: UnsafeMutablePointer<addrinfo>? = first
        while let a = ai {
            do {
                fd = try Self.connect(a.pointee, deadline: deadline)
                return
            } catch let f as Failure {
                lastError = f
                if f.isTimeout { throw f }
            }
            ai = a.pointee.ai_next
        }
        throw lastError
    }

    deinit { if fd >= 0 { close(fd) } }

    private static func connect(_ a: addrinfo, deadline: Double) throws -> Int32 {
        let fd = socket(a.ai_family, a.ai_socktype | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), a.ai_protocol)
        guard fd >= 0 else { throw Failure.connect(String(cString: strerror(errno))) }
        if Glibc.connect(fd, a.ai_addr, a.ai_addrlen) == 0 { return fd }
        guard errno == EINPROGRESS else {
            let m = String(cString: strerror(errno)); close(fd); throw Failure.connect(m)
        }
        do {
            try wait(fd, events: Int16(POLLOUT), deadline: deadline, what: "connecting")
        } catch { close(fd); throw error }
        var err: Int32 = 0
        var len = socklen_t(MemoryLayout<Int32>.size)
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len)
        guard err == 0 else { close(fd); throw Failure.connect(String(cString: strerror(err))) }
        return fd
    }

    private static func wait(_ fd: Int32, events: Int16, deadline: Double, what: String) throws {
        while true {
            let left = deadline - ProbeClock.now()
            guard left > 0 else { throw Failure.timedOut(what) }
            var p = pollfd(fd: fd, events: events, revents: 0)
            let n = poll(&p, 1, Int32(max(1, (left * 1000).rounded(.up))))
            if n > 0 { return }
            if n == 0 { throw Failure.timedOut(what) }
            if errno != EINTR { throw Failure.io("poll: \(String(cString: strerror(errno)))") }
        }
    }

    func send(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            try Self.wait(fd, events: Int16(POLLOUT), deadline: deadline, what: "sending")
            let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + offset, bytes.count - offset, Int32(MSG_NOSIGNAL)) }
            if n < 0 {
                if errno == EAGAIN || errno == EINTR { continue }
                throw Failure.io("send: \(String(cString: strerror(errno)))")
            }
            offset += n
        }
    }

    /// Reads what is available (at least one byte) before the deadline.
    func receive(max: Int = 65_536) throws -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: max)
        while true {
            try Self.wait(fd, events: Int16(POLLIN), deadline: deadline, what: "waiting for the reply")
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress!, max, 0) }
            if n > 0 { return Array(buffer[0..<n]) }
            if n == 0 { throw Failure.closed }
            if errno == EAGAIN || errno == EINTR { continue }
            throw Failure.io("recv: \(String(cString: strerror(errno)))")
        }
    }
}

/// Monotonic seconds, for deadlines and durations (wall-clock jumps must not shorten a timeout).
enum ProbeClock {
    static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    /// Wall-clock seconds since the epoch, for timestamps that are stored.
    static func wall() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }
}

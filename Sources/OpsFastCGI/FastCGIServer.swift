import CFCGI
import OpsHTTP
import OpsJSON
import OpsLog
#if canImport(Glibc)
import Glibc
#endif

/// A FastCGI worker: one listening unix socket, N accept threads each with its own
/// `FCGX_Request` and its own handler (and so its own database connection).
///
/// Shutdown, in order, on SIGTERM or SIGINT:
/// 1. the socket file is unlinked, so nginx's new connects fail at once and go to another
///    worker (`fastcgi_next_upstream error`);
/// 2. connections already queued in the listen backlog are still accepted and answered;
/// 3. the listening socket is shut down, which makes every blocked `accept` return;
/// 4. threads finish the request in hand and exit; the process waits for them up to the
///    grace period and returns.
/// libfcgi installs its own SIGTERM handler that only sets a flag while threads stay blocked
/// in accept, so the signals are blocked in every thread and taken with sigwait instead.
public final class FastCGIServer {
    public struct Options {
        public var socketPath: String
        public var threads: Int
        public var backlog: Int
        public var maxBodyBytes: Int
        public var shutdownGraceSeconds: Int

        public init(socketPath: String, threads: Int, backlog: Int, maxBodyBytes: Int, shutdownGraceSeconds: Int) {
            self.socketPath = socketPath
            self.threads = threads
            self.backlog = backlog
            self.maxBodyBytes = maxBodyBytes
            self.shutdownGraceSeconds = shutdownGraceSeconds
        }
    }

    public struct StartError: Error, CustomStringConvertible {
        public let description: String
    }

    /// Builds the handler of one accept thread; called on that thread before it accepts.
    public typealias HandlerFactory = (_ threadIndex: Int) -> (Request) -> Response

    let options: Options
    let logger: Logger
    let makeHandler: HandlerFactory
    var listenFD: Int32 = -1
    let finished = Counter()
    /// When SIGTERM/SIGINT arrived (`Timestamp.monotonicMillis`), for what the process does
    /// after `run` returns within the same grace period.
    public private(set) var stopSignalledAtMillis: Double?

    public init(options: Options, logger: Logger, makeHandler: @escaping HandlerFactory) {
        self.options = options
        self.logger = logger
        self.makeHandler = makeHandler
    }

    /// Listens, serves until SIGTERM/SIGINT, then shuts down as described above.
    /// Returns when the workers have stopped (or the grace period ran out).
    public func run() throws {
        var signals = sigset_t()
        sigemptyset(&signals)
        sigaddset(&signals, SIGTERM)
        sigaddset(&signals, SIGINT)
        // Blocked before FCGX_Init and before any thread starts, so every thread inherits it.
        pthread_sigmask(SIG_BLOCK, &signals, nil)
        signal(SIGPIPE, SIG_IGN)  // a client gone mid-write is an error return, not a death

        guard FCGX_Init() == 0 else { throw StartError(description: "FCGX_Init failed") }
        try removeStaleSocket()
        let fd = FCGX_OpenSocket(options.socketPath, Int32(options.backlog))
        guard fd >= 0 else {
            throw StartError(description: "cannot listen on \(options.socketPath): \(String(cString: strerror(errno)))")
        }
        listenFD = fd
        // nginx workers run as another user; the socket's directory controls who may reach it.
        chmod(options.socketPath, 0o666)

        var threads: [pthread_t] = []
        for i in 0..<options.threads {
            threads.append(try startThread { [self] in self.acceptLoop(threadIndex: i) })
        }
        logger.info("worker listening", [("socket", .string(options.socketPath)),
                                         ("threads", .int(Int64(options.threads))),
                                         ("max_body_bytes", .int(Int64(options.maxBodyBytes)))])

        var received: Int32 = 0
        sigwait(&signals, &received)
        let started = Timestamp.monotonicMillis()
        stopSignalledAtMillis = started
        logger.info("stopping: no new connections, finishing requests in flight",
                    [("signal", .int(Int64(received)))])
        unlink(options.socketPath)
        drainBacklog(deadlineMillis: started + Double(options.shutdownGraceSeconds) * 500)
        shutdown(fd, Int32(SHUT_RDWR))

        let deadline = started + Double(options.shutdownGraceSeconds) * 1000
        while finished.value < options.threads && Timestamp.monotonicMillis() < deadline {
            usleep(5_000)
        }
        let stuck = options.threads - finished.value
        if stuck == 0 {
            for t in threads { pthread_join(t, nil) }
            close(fd)
            logger.info("stopped", [("dur_ms", .double(Timestamp.monotonicMillis() - started))])
        } else {
            logger.warn("stopped with requests still running after the grace period",
                        [("threads_busy", .int(Int64(stuck))), ("grace_s", .int(Int64(options.shutdownGraceSeconds)))])
        }
    }

    /// Refuses to start on a socket path some live worker listens on; removes a stale one.
    func removeStaleSocket() throws {
        var st = stat()
        guard lstat(options.socketPath, &st) == 0 else { return }
        guard (st.st_mode & S_IFMT) == S_IFSOCK else {
            throw StartError(description: "\(options.socketPath) exists and is not a socket; refusing to remove it")
        }
        if socketAcceptsConnections(options.socketPath) {
            throw StartError(description: "another process is listening on \(options.socketPath)")
        }
        unlink(options.socketPath)
    }

    /// Waits until no connection is waiting in the listen backlog (checked twice, 10 ms apart)
    /// or the deadline passes. The socket file is gone, so no new connection can arrive.
    func drainBacklog(deadlineMillis: Double) {
        var quietChecks = 0
        while quietChecks < 2 && Timestamp.monotonicMillis() < deadlineMillis {
            var p = pollfd(fd: listenFD, events: Int16(POLLIN), revents: 0)
            if poll(&p, 1, 0) > 0 { quietChecks = 0 } else { quietChecks += 1 }
            usleep(10_000)
        }
    }

    func acceptLoop(threadIndex: Int) {
        defer { finished.increment() }
        let handler = makeHandler(threadIndex)
        var request = FCGX_Request()
        guard FCGX_InitRequest(&request, listenFD, 0) == 0 else {
            logger.error("FCGX_InitRequest failed", [("thread", .int(Int64(threadIndex)))])
            return
        }
        while FCGX_Accept_r(&request) >= 0 {
            serve(&request, handler: handler)
            FCGX_Finish_r(&request)
        }
        FCGX_Free(&request, 1)
    }

    /// Reads one request, answers it, and writes the log line. Malformed requests are answered
    /// here with the error envelope without reaching the handler.
    func serve(_ raw: inout FCGX_Request, handler: (Request) -> Response) {
        let start = Timestamp.monotonicMillis()
        let params = FastCGIParams(envp: raw.envp)
        let requestID = RequestID.choose(clientHeader: params.headers["x-request-id"], proxyID: params.proxyRequestID)
        let rawPath = params.rawPath
        var response: Response
        do throws(APIError) {
            let segments = try Request.decodePath(rawPath)
            let query = try QueryString.parse(params.queryString)
            let body: [UInt8]
            do {
                body = try readBody(raw.in, contentLength: params.contentLength, limit: options.maxBodyBytes)
            } catch {
                switch error {
                case .tooLarge:
                    discardInput(raw.in)
                    throw APIError.bodyTooLarge(limit: options.maxBodyBytes)
                case .badLength:
                    throw APIError.badRequest("bad_content_length", "Content-Length is not a valid number.")
                case .incomplete(let received, let declared):
                    throw APIError.badRequest("incomplete_body",
                                              "The body ended after \(received) of \(declared) declared bytes.")
                }
            }
            let request = Request(method: params.method, rawPath: rawPath, segments: segments, query: query,
                                  headers: params.headers, body: body, remoteAddress: params.remoteAddress,
                                  requestID: requestID, role: params.role, subject: params.subject,
                                  isAuthSubrequest: params.isAuthSubrequest)
            response = handler(request)
        } catch {
            // nginx accepts only 2xx/401/403 from an auth subrequest; a malformed path or query
            // is answered by the worker on the main request (which has no role, so a
            // non-public route still fails closed).
            response = params.isAuthSubrequest ? .noContent() : .error(error)
        }
        response.headers.append(HTTPHeader("X-Request-Id", requestID))
        write(response, to: raw.out, includeBody: params.method != "HEAD")
        let level: LogLevel = response.status >= 500 ? .error : .info
        logger.log(level, "request", [
            ("request_id", .string(requestID)), ("method", .string(params.method)),
            ("path", .string(String(rawPath.prefix(512)))), ("status", .int(Int64(response.status))),
            ("auth", .bool(params.isAuthSubrequest)),
            ("dur_ms", .double(((Timestamp.monotonicMillis() - start) * 1000).rounded() / 1000)),
        ])
    }

    /// CGI response: a `Status:` line, headers, a blank line, the body.
    func write(_ response: Response, to stream: UnsafeMutablePointer<FCGX_Stream>?, includeBody: Bool) {
        var head = "Status: \(response.status) \(reasonPhrase(response.status))\r\n"
        for h in response.headers { head += "\(h.name): \(h.sanitizedValue)\r\n" }
        if response.status != 204 && response.status != 304 { head += "Content-Length: \(response.body.count)\r\n" }
        head += "\r\n"
        var bytes = Array(head.utf8)
        if includeBody { bytes += response.body }
        bytes.withUnsafeBufferPointer { buf in
            buf.baseAddress!.withMemoryRebound(to: CChar.self, capacity: buf.count) {
                _ = FCGX_PutStr($0, Int32(buf.count), stream)
            }
        }
    }
}

/// True when something accepts connections on the unix socket at `path`.
func socketAcceptsConnections(_ path: String) -> Bool {
    let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    let capacity = MemoryLayout.size(ofValue: address.sun_path)
    guard path.utf8.count < capacity else { return false }
    withUnsafeMutableBytes(of: &address.sun_path) { raw in
        for (i, b) in path.utf8.enumerated() { raw[i] = b }
        raw[path.utf8.count] = 0
    }
    return withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) == 0
        }
    }
}

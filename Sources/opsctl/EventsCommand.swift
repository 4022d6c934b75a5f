import ArgumentParser
import Foundation
import OpsCtlCore
import OpsJSON
#if canImport(Glibc)
import Glibc
#endif

struct Events: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Live events from the ticker (WebSocket /api/ws), one JSON object per line, until interrupted.",
        discussion: """
            Prints every ops_event frame exactly as received, one per line:
              {"v":1,"type":"ops_event","topic":"ops:events","id":N,"ts":...,
               "data":{"type":"run_started",...}}
            and any other frame about the stream (e.g. catchup_truncated). The
            subscription acknowledgement is not printed; error frames go to
            stderr. When the connection drops, opsctl reconnects (1, 2, 4 ... 30
            s apart) and asks for the events it missed, so none is lost or
            printed twice. Ctrl-C ends it with exit 0. Exit 3 when the ticker
            refuses the token (HTTP 401/403, close 4401/4403), 5 when the first
            connection fails. ws:// for http:// URLs, wss:// for https://.
            """)

    @Option(help: ArgumentHelp("First replay the events after this event id.", valueName: "id"))
    var since: Int64?
    @Option(help: ArgumentHelp("Exit 0 after this many events.", valueName: "n"))
    var count: Int?
    @OptionGroup var connection: ConnectionOptions

    func validate() throws {
        if let since, since < 0 { throw ValidationError("--since must be an event id (0 or more)") }
        if let count, count < 1 { throw ValidationError("--count must be at least 1") }
    }

    func run() throws {
        Interrupts.exitQuietly()
        let settings = try connection.settings()
        let token = try settings.requireToken()
        let session = TickerSession(settings: settings, token: token, base: try ServerURL(settings.url),
                                    timeoutMillis: milliseconds(seconds: connection.timeout), since: since, count: count)
        try session.run()
    }
}

/// One `opsctl events` run: connections to the ticker, one after the other, until interrupted.
final class TickerSession {
    enum End {
        case done
        case closed(code: Int?, reason: String)
        case refused(Failure)
        case lost(String)
    }

    let settings: Settings
    let token: String
    let base: ServerURL
    let timeoutMillis: Int
    let count: Int?
    /// The id of the newest event printed (or, before any, the newest the ticker had when we
    /// subscribed): a reconnection asks for what came after it.
    var lastID: Int64?
    var printed = 0
    var everSubscribed = false
    var subscribedNow = false
    var lastError: (code: String, message: String)?
    /// How long the server may stay silent: it pings every 20 s.
    let idleLimitSeconds = 75.0

    init(settings: Settings, token: String, base: ServerURL, timeoutMillis: Int, since: Int64?, count: Int?) {
        self.settings = settings
        self.token = token
        self.base = base
        self.timeoutMillis = timeoutMillis
        self.lastID = since
        self.count = count
    }

    func run() throws {
        var attempt = 0
        while true {
            subscribedNow = false
            let end = try connectOnce()
            let why: String
            switch end {
            case .done:
                return
            case .closed(let code, let reason):
                if let code, let exit = ExitStatus.forCloseCode(code) {
                    var message = lastError?.message ?? "the ticker refused this token"
                    while message.hasSuffix(".") { message.removeLast() }
                    throw Failure(exit, code: lastError?.code ?? "forbidden", message + "; the ticker closed the connection with \(code)")
                }
                why = "closed by the server" + (code.map { " with code \($0)" } ?? "") + (reason.isEmpty ? "" : ": \(reason)")
            case .refused(let failure):
                // 401/403/404 are final; a 5xx (e.g. nginx while the ticker restarts) is worth
                // retrying once we have been connected.
                if !everSubscribed || failure.status != .server { throw failure }
                why = failure.message
            case .lost(let message):
                // Never subscribed: not a connection that dropped, one that never worked.
                if !everSubscribed { throw Failure(.server, code: "ticker_unavailable", "the ticker at \(settings.url)/api/ws: \(message)") }
                why = message
            }
            if subscribedNow { attempt = 0 }
            let delay = reconnectDelaySeconds(attempt: attempt)
            attempt += 1
            Out.note("opsctl: ticker connection lost (\(why)); reconnecting in \(delay) s")
            sleep(UInt32(delay))
        }
    }

    /// One connection: upgrade, subscribe, print frames until it ends.
    func connectOnce() throws -> End {
        let stream: CurlStream
        do {
            stream = try CurlStream(url: settings.url, caFile: settings.caFile, timeoutMillis: timeoutMillis)
        } catch CurlStream.StreamError.connect(let message, let timedOut) {
            let failure = Failure.transport(message, timedOut: timedOut, url: settings.url)
            if !everSubscribed { throw failure }
            return .lost(failure.message)
        }
        do {
            return try converse(stream)
        } catch let e as CurlStream.StreamError {
            switch e {
            case .connect(let m, _), .io(let m): return .lost(m)
            case .timeout: return .lost("timed out")
            }
        } catch let e as WebSocket.ProtocolError {
            try? stream.send(WebSocket.encode(.init(opcode: .close, payload: WebSocket.closePayload(code: 1002))))
            return .lost("WebSocket protocol error: \(e.message)")
        }
    }

    private func converse(_ stream: CurlStream) throws -> End {
        let key = WebSocket.makeKey()
        try stream.send(WebSocket.upgradeRequest(path: base.prefix + "/api/ws", host: base.hostHeader, key: key,
                                                 extraHeaders: ["Authorization: Bearer \(token)",
                                                                "User-Agent: \(Client.userAgent)"]))
        // The answer's head.
        var buffer: [UInt8] = []
        let deadline = Date().addingTimeInterval(Double(timeoutMillis) / 1000)
        var head: HTTPResponseHead?
        var closed = false
        while head == nil {
            if closed { return .lost("the server closed the connection during the upgrade") }
            guard Date() < deadline else { return .lost("no answer to the WebSocket upgrade within \(timeoutMillis / 1000) s") }
            _ = stream.wait(readable: true, millis: 250)
            closed = try drain(stream) { buffer += $0 }
            head = try HTTPResponseHead.parse(buffer)
        }
        guard let head else { return .lost("no answer") }
        if head.status != 101 {
            let body = try readBody(stream, head: head, buffer: Array(buffer[head.length...]), deadline: deadline)
            return .refused(Failure.fromResponse(status: head.status, body: body, contentType: head.headers["content-type"]))
        }
        guard head.acceptsUpgrade(key: key) else {
            throw WebSocket.ProtocolError("the server's 101 answer does not accept the upgrade (Sec-WebSocket-Accept)")
        }
        var decoder = WebSocket.FrameDecoder()
        var assembler = WebSocket.MessageAssembler()
        decoder.push(Array(buffer[head.length...]))
        var subscribe = JSONObject([("type", "subscribe"), ("topics", ["ops:events"])])
        if let lastID { subscribe["since"] = .int(lastID) }
        try stream.send(WebSocket.encode(.init(opcode: .text, payload: JSON.object(subscribe).serializedBytes())))
        var lastHeard = Date()
        while true {
            while let frame = try decoder.next() {
                guard let event = try assembler.accept(frame) else { continue }
                switch event {
                case .text(let text):
                    if handle(text) {
                        try? stream.send(WebSocket.encode(.init(opcode: .close, payload: WebSocket.closePayload(code: 1000))))
                        return .done
                    }
                case .ping(let payload):
                    try stream.send(WebSocket.encode(.init(opcode: .pong, payload: payload)))
                case .close(let code, let reason):
                    try? stream.send(WebSocket.encode(.init(opcode: .close, payload: WebSocket.closePayload(code: UInt16(code ?? 1000)))))
                    return .closed(code: code, reason: reason)
                case .pong, .binary:
                    break
                }
            }
            // The frames that came with the end of the connection (a close frame, say) are
            // handled before the end is.
            if closed { return .lost("the server closed the connection") }
            if stream.wait(readable: true, millis: 1000) {
                closed = try drain(stream) {
                    decoder.push($0)
                    lastHeard = Date()
                }
            }
            if Date().timeIntervalSince(lastHeard) > idleLimitSeconds {
                return .lost("nothing from the server for \(Int(idleLimitSeconds)) s")
            }
        }
    }

    /// Reads what has arrived; true when the server has closed the connection.
    private func drain(_ stream: CurlStream, _ take: ([UInt8]) -> Void) throws -> Bool {
        while let bytes = try stream.receiveAvailable() {
            if bytes.isEmpty { return true }
            take(bytes)
        }
        return false
    }

    /// The body of a refused upgrade (an error envelope), as far as it arrives in time.
    private func readBody(_ stream: CurlStream, head: HTTPResponseHead, buffer: [UInt8], deadline: Date) throws -> [UInt8] {
        var body = buffer
        let length = head.headers["content-length"].flatMap { Int($0) }
        let chunked = head.headers["transfer-encoding"]?.lowercased().contains("chunked") ?? false
        func complete() -> Bool {
            if let length { return body.count >= length }
            if chunked { return body.count >= 5 && Array(body.suffix(5)) == Array("0\r\n\r\n".utf8) }
            return false
        }
        reading: while !complete(), body.count < 64 << 10, Date() < deadline {
            _ = stream.wait(readable: true, millis: 250)
            while let bytes = try? stream.receiveAvailable() {
                if bytes.isEmpty { break reading }
                body += bytes
            }
        }
        if let length { return Array(body.prefix(length)) }
        return chunked ? HTTPResponseHead.dechunk(body) : body
    }

    /// One text frame; true when --count is reached.
    private func handle(_ text: String) -> Bool {
        guard let frame = try? JSON.parse(text) else {
            Out.warn("the ticker sent a frame that is not JSON; skipped")
            return false
        }
        switch frame["type"]?.stringValue {
        case "subscribed":
            subscribedNow = true
            everSubscribed = true
            if lastID == nil { lastID = frame["last_event_id"]?.intValue }
        case "error":
            let code = frame["error"]?["code"]?.stringValue ?? "error"
            let message = frame["error"]?["message"]?.stringValue ?? "the ticker reported an error"
            lastError = (code, message)
            // A refusal is followed by close 4401/4403, whose error line says it.
            if code != "forbidden", code != "unauthenticated" { Out.note("opsctl: ticker: \(message) (\(code))") }
        case "pong":
            break
        case "ops_event":
            if let id = frame["id"]?.intValue {
                if let last = lastID, id <= last { return false }  // already printed
                lastID = id
            }
            Out.stdout(text.replacingOccurrences(of: "\n", with: " ") + "\n")
            printed += 1
            if let count, printed >= count { return true }
        default:
            Out.stdout(text.replacingOccurrences(of: "\n", with: " ") + "\n")
        }
        return false
    }
}

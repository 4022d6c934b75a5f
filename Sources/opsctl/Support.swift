import ArgumentParser
import Foundation
import OpsCtlCore
import OpsCurl
import OpsJSON
#if canImport(Glibc)
import Glibc
#endif

/// stdout and stderr. Every write takes one lock, so a line is never cut in half, and the
/// interrupt handler (Interrupts) takes it too before it ends the process.
enum Out {
    static let lock = NSLock()
    /// Secrets to keep out of stderr: the token in use, once known.
    nonisolated(unsafe) static var secrets: [String] = []

    static func stdout(_ bytes: [UInt8]) {
        lock.lock()
        defer { lock.unlock() }
        writeAll(1, bytes)
    }

    static func stdout(_ text: String) { stdout(Array(text.utf8)) }

    /// The API's JSON exactly as received, with a final newline.
    static func json(_ body: [UInt8]) {
        var bytes = body
        if bytes.last != UInt8(ascii: "\n") { bytes.append(UInt8(ascii: "\n")) }
        stdout(bytes)
    }

    /// One line on stderr, redacted.
    static func note(_ text: String) {
        let line = Redactor.oneLine(text, secrets: secrets) + "\n"
        lock.lock()
        defer { lock.unlock() }
        writeAll(2, Array(line.utf8))
    }

    static func warn(_ text: String) { note("opsctl: warning: " + text) }

    static func fail(_ failure: Failure) {
        let line = failure.line(secrets: secrets) + "\n"
        lock.lock()
        defer { lock.unlock() }
        writeAll(2, Array(line.utf8))
    }

    private static func writeAll(_ fd: Int32, _ bytes: [UInt8]) {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                // The reader went away (`opsctl events | head -1`): nothing left to do.
                if fd == 1, errno == EPIPE { _exit(0) }
                return
            }
            offset += n
        }
    }
}

/// SIGINT and SIGTERM end a streaming command (`events`, `logs --follow`) with exit 0, between
/// two lines: the signals are taken by a thread of their own (sigwait), which waits for the
/// output lock and ends the process.
enum Interrupts {
    static func exitQuietly() {
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGINT)
        sigaddset(&set, SIGTERM)
        // Blocked here, before any other thread exists, so every later thread has them blocked.
        pthread_sigmask(SIG_BLOCK, &set, nil)
        let blocked = set
        let thread = Thread {
            var s = blocked
            var signal: Int32 = 0
            sigwait(&s, &signal)
            // Between two lines; a reader that stopped reading cannot hold us up for long.
            _ = Out.lock.lock(before: Date().addingTimeInterval(2))
            _exit(0)
        }
        thread.start()
    }
}

/// Sleeps in short steps (usleep takes less than a second on some systems).
func pause(seconds: Double) {
    var left = seconds
    while left > 0 {
        let step = min(left, 0.5)
        usleep(UInt32(step * 1_000_000))
        left -= step
    }
}

/// How to reach the server; every command that talks to it has these options.
struct ConnectionOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Server base URL, e.g. https://ops.example.com (default: $OPSCTL_URL, then the config file).",
                               valueName: "url"))
    var url: String?

    @Option(help: ArgumentHelp("API token. Visible to other users in `ps`: prefer $OPSCTL_TOKEN or `opsctl login`.",
                               valueName: "token"))
    var token: String?

    @Option(name: .customLong("cacert"),
            help: ArgumentHelp("Trust this CA certificate file (PEM) for TLS, e.g. a self-signed local setup (default: $OPSCTL_CACERT).",
                               valueName: "file"),
            completion: .file())
    var caFile: String?

    @Option(help: ArgumentHelp("Seconds to wait for the server.", valueName: "seconds"))
    var timeout: Double = 30

    func validate() throws {
        guard timeout > 0, timeout <= 3600 else { throw ValidationError("--timeout must be between 0 and 3600 seconds") }
    }

    func settings() throws -> Settings {
        if token != nil {
            Out.warn("a token given with --token is visible to other users in `ps`; prefer OPSCTL_TOKEN or `opsctl login`")
        }
        let env = ProcessInfo.processInfo.environment
        let settings = try Settings.resolve(urlFlag: url, tokenFlag: token, caFlag: caFile, environment: env) {
            guard let path = ConfigFile.path(environment: env) else { return nil }
            return try ConfigFile.load(path: path)
        }
        if let t = settings.token { Out.secrets.append(t) }
        if let ca = settings.caFile, access(ca, R_OK) != 0 {
            throw Failure(.usage, code: "bad_cacert", "cannot read the CA file \(ca): \(String(cString: strerror(errno)))")
        }
        return settings
    }

    func client() throws -> Client {
        Client(settings: try settings(), timeoutMillis: milliseconds(seconds: timeout))
    }
}

/// `--plain`, shared by the commands that have a human view.
struct PlainFlag: ParsableArguments {
    @Flag(help: "A compact human view with aligned columns instead of JSON.")
    var plain = false
}

/// REST requests through OpsCurl.HTTPClient (libcurl; TLS verified; the token only ever in a
/// request header inside this process).
struct Client {
    let settings: Settings
    let timeoutMillis: Int
    static let userAgent = "opsctl/\(OpsCtlVersion.string)"
    /// Largest answer opsctl takes (a support bundle is capped at 8 MiB of JSON by default).
    static let maxAnswerBytes = 256 << 20
    private static let warnedPlainHTTP = NSLock()
    nonisolated(unsafe) private static var warned = false

    /// A 2xx answer, or a Failure (HTTP error, no answer, redirect, answer too large).
    func send(_ method: String = "GET", _ path: String, query: [(String, String?)] = [], json: [UInt8]? = nil,
              accept: String = "application/json", timeoutMillis: Int? = nil, token: String? = nil) throws -> HTTPExchange {
        let bearer = try token ?? settings.requireToken()
        warnIfPlainHTTP()
        let url = ServerURL.api(settings.url, path, query)
        var headers = ["Authorization: Bearer \(bearer)", "Accept: \(accept)", "User-Agent: \(Client.userAgent)"]
        if json != nil { headers.append("Content-Type: application/json") }
        let exchange = HTTPClient.perform(method: method, url: url, headers: headers, body: json,
                                          timeoutMillis: timeoutMillis ?? self.timeoutMillis, caFile: settings.caFile,
                                          maxBodyBytes: Client.maxAnswerBytes)
        if let error = exchange.error {
            throw Failure.transport(error, timedOut: exchange.timedOut, url: settings.url)
        }
        if (300..<400).contains(exchange.status) {
            let location = exchange.header("location").map { " to \($0)" } ?? ""
            throw Failure(.failure, code: "redirect",
                          "the server answered \(exchange.status), a redirect\(location); opsctl does not follow redirects (the token would go along): set OPSCTL_URL to the final address",
                          httpStatus: exchange.status)
        }
        guard (200..<300).contains(exchange.status) else {
            throw Failure.fromResponse(status: exchange.status, body: exchange.body, contentType: exchange.header("content-type"))
        }
        if exchange.body.count >= Client.maxAnswerBytes {
            throw Failure(.failure, code: "answer_too_large",
                          "the answer is larger than the \(Client.maxAnswerBytes >> 20) MiB opsctl can take; ask for less (e.g. a smaller --tail or --lines)")
        }
        return exchange
    }

    /// GET and parse: the raw body (for JSON output) and the parsed value (for --plain).
    func getJSON(_ path: String, query: [(String, String?)] = []) throws -> (body: [UInt8], value: JSON) {
        let exchange = try send("GET", path, query: query)
        return (exchange.body, try parse(exchange.body))
    }

    func parse(_ body: [UInt8]) throws -> JSON {
        do {
            return try JSON.parse(body)
        } catch {
            throw Failure(.failure, code: "bad_answer", "the server's answer is not JSON: \(error)")
        }
    }

    private func warnIfPlainHTTP() {
        Client.warnedPlainHTTP.lock()
        defer { Client.warnedPlainHTTP.unlock() }
        guard !Client.warned, let b = try? ServerURL(settings.url), !b.tls, !b.isLoopback else { return }
        Client.warned = true
        Out.warn("the token goes to \(b.host) over plain http (not encrypted); use an https:// URL")
    }
}

/// Prints an answer: JSON as received, or the human view.
func emit(_ body: [UInt8], plain: Bool, client: Client, view: (JSON) -> String) throws {
    if plain {
        Out.stdout(view(try client.parse(body)))
    } else {
        Out.json(body)
    }
}

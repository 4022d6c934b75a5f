import ArgumentParser
import Foundation
import OpsCtlCore
import OpsJSON
#if canImport(Glibc)
import Glibc
#endif

struct Login: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Store the server URL and a token in the config file (mode 0600) for later commands.",
        discussion: """
            The token is read from stdin (`opsctl login --url URL < tokenfile`,
            or piped from a password manager) or, on a terminal, typed at a
            prompt without echo; never from the command line. It is checked
            with GET /api/ops/whoami first (--no-verify skips that) and stored
            with the URL in $XDG_CONFIG_HOME/opsctl/config.json, else
            ~/.config/opsctl/config.json (mode 0600). On success the whoami
            answer is printed.
            """)

    @Option(help: ArgumentHelp("Server base URL (default: $OPSCTL_URL, then the URL already stored).", valueName: "url"))
    var url: String?
    @Option(name: .customLong("cacert"),
            help: ArgumentHelp("CA certificate file to trust for this server; stored with the token.", valueName: "file"),
            completion: .file())
    var caFile: String?
    @Flag(help: "Store the token without checking it with the server.")
    var noVerify = false
    @Option(help: ArgumentHelp("Seconds to wait for the server.", valueName: "seconds"))
    var timeout: Double = 30

    func run() throws {
        let env = ProcessInfo.processInfo.environment
        guard let path = ConfigFile.path(environment: env) else {
            throw Failure(.usage, code: "no_config_path", "neither XDG_CONFIG_HOME nor HOME is set to an absolute path; cannot place the config file")
        }
        let stored = (try? ConfigFile.load(path: path)) ?? nil
        guard let rawURL = url ?? env["OPSCTL_URL"].flatMap({ $0.isEmpty ? nil : $0 }) ?? stored?.url else {
            throw Failure(.usage, code: "no_url", "no server URL: pass --url or set OPSCTL_URL")
        }
        let serverURL = try ServerURL.normalize(rawURL)
        let ca = caFile ?? env["OPSCTL_CACERT"].flatMap { $0.isEmpty ? nil : $0 }
        if let ca, access(ca, R_OK) != 0 {
            throw Failure(.usage, code: "bad_cacert", "cannot read the CA file \(ca): \(String(cString: strerror(errno)))")
        }
        let token = try readToken(prompt: "Token for \(serverURL): ")
        Out.secrets.append(token)
        if !noVerify {
            let settings = Settings(url: serverURL, token: token, tokenSource: nil, caFile: ca)
            let client = Client(settings: settings, timeoutMillis: milliseconds(seconds: timeout))
            let exchange = try client.send("GET", "/api/ops/whoami")
            let who = try client.parse(exchange.body)
            try ConfigFile.save(StoredConfig(url: serverURL, token: token, cacert: ca.map(absolutePath)), path: path)
            Out.json(exchange.body)
            Out.note("logged in to \(serverURL) as \(who["subject"]?.stringValue ?? "?") (\(who["role"]?.stringValue ?? "?")); saved \(path)")
        } else {
            try ConfigFile.save(StoredConfig(url: serverURL, token: token, cacert: ca.map(absolutePath)), path: path)
            Out.note("saved \(path) (token not checked)")
        }
    }

    func absolutePath(_ p: String) -> String {
        p.hasPrefix("/") ? p : FileManager.default.currentDirectoryPath + "/" + p
    }

    /// The first line of stdin, or, on a terminal, a line typed at a prompt with echo off.
    func readToken(prompt: String) throws -> String {
        var line: String?
        if isatty(0) == 1 {
            line = readWithoutEcho(prompt: prompt)
        } else {
            line = readLine(strippingNewline: true)
        }
        let token = (line ?? "").trimmed
        guard !token.isEmpty else {
            throw Failure(.usage, code: "no_token", "no token given: pipe it into `opsctl login` or type it at the prompt")
        }
        guard !token.contains(where: { $0.isWhitespace || $0.asciiValue.map { $0 < 0x20 || $0 == 0x7f } ?? false }) else {
            throw Failure(.usage, code: "bad_token", "the token contains white space or control characters")
        }
        return token
    }

    func readWithoutEcho(prompt: String) -> String? {
        let tty = open("/dev/tty", O_RDWR | O_CLOEXEC)
        let fd = tty >= 0 ? tty : 0
        defer { if tty >= 0 { close(tty) } }
        // Echo goes off before the prompt appears, as getpass(3) does: TCSAFLUSH discards input
        // typed before it, so a token typed (or pasted) right after a prompt printed first could
        // be thrown away, leaving the read waiting for a line that already came.
        var old = termios()
        let haveTermios = tcgetattr(fd, &old) == 0
        if haveTermios {
            var quiet = old
            quiet.c_lflag &= ~tcflag_t(ECHO)
            quiet.c_lflag |= tcflag_t(ECHONL)
            _ = tcsetattr(fd, TCSAFLUSH, &quiet)
        }
        defer { if haveTermios { _ = tcsetattr(fd, TCSAFLUSH, &old) } }
        _ = prompt.withCString { write(tty >= 0 ? tty : 2, $0, strlen($0)) }
        var bytes: [UInt8] = []
        var c: UInt8 = 0
        while read(fd, &c, 1) == 1 {
            if c == 10 || c == 13 { break }
            bytes.append(c)
            if bytes.count > 8192 { break }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

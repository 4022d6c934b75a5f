import OpsJSON
#if canImport(Glibc)
import Glibc
#endif

/// What `opsctl login` stores: `{"url": "…", "token": "…", "cacert": "…"}` (cacert only when
/// given to login).
public struct StoredConfig: Equatable, Sendable {
    public var url: String?
    public var token: String?
    public var cacert: String?

    public init(url: String? = nil, token: String? = nil, cacert: String? = nil) {
        self.url = url
        self.token = token
        self.cacert = cacert
    }

    public func serialized() -> String {
        var o = JSONObject()
        o["url"] = .from(url)
        o["token"] = .from(token)
        if let cacert { o["cacert"] = .string(cacert) }
        return JSON.object(o).serialized() + "\n"
    }

    public static func parse(_ text: String, path: String) throws -> StoredConfig {
        guard let json = try? JSON.parse(text), let o = json.objectValue else {
            throw Failure(.usage, code: "bad_config", "\(path) is not a JSON object; run `opsctl login` again")
        }
        return StoredConfig(url: o["url"]?.stringValue, token: o["token"]?.stringValue, cacert: o["cacert"]?.stringValue)
    }
}

/// The config file: where it is, the permission check, reading and writing (mode 0600).
public enum ConfigFile {
    /// `$XDG_CONFIG_HOME/opsctl/config.json`, else `$HOME/.config/opsctl/config.json`
    /// (an XDG_CONFIG_HOME that is not absolute is ignored, as the XDG spec says).
    public static func path(environment env: [String: String]) -> String? {
        if let xdg = env["XDG_CONFIG_HOME"], xdg.hasPrefix("/") { return xdg + "/opsctl/config.json" }
        if let home = env["HOME"], home.hasPrefix("/") { return home + "/.config/opsctl/config.json" }
        return nil
    }

    /// nil when the file may be read: it belongs to us and nobody else can read or write it.
    public static func permissionProblem(path: String, mode: UInt32, owner: UInt32, me: UInt32) -> Failure? {
        if owner != me {
            return Failure(.auth, code: "config_permissions",
                           "\(path) belongs to uid \(owner), not to you (uid \(me)); refusing to use the token in it")
        }
        if mode & 0o077 != 0 {
            let octal = String(mode & 0o777, radix: 8)
            return Failure(.auth, code: "config_permissions",
                           "\(path) has mode 0\(octal), readable or writable by others; run `chmod 600 \(path)` (and consider the token leaked: revoke it and `opsctl login` again)")
        }
        return nil
    }

    /// The stored configuration, nil when there is no file. A file others may read is refused.
    public static func load(path: String) throws -> StoredConfig? {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        if fd < 0 {
            if errno == ENOENT { return nil }
            if errno == ELOOP {
                throw Failure(.auth, code: "config_permissions", "\(path) is a symbolic link; refusing to read a token through it")
            }
            throw Failure(.failure, code: "config_unreadable", "cannot read \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            throw Failure(.failure, code: "config_unreadable", "cannot stat \(path): \(String(cString: strerror(errno)))")
        }
        if let problem = permissionProblem(path: path, mode: UInt32(st.st_mode), owner: UInt32(st.st_uid), me: UInt32(geteuid())) {
            throw problem
        }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw Failure(.failure, code: "config_unreadable", "cannot read \(path): \(String(cString: strerror(errno)))")
            }
            if n == 0 { break }
            bytes += buffer[0..<n]
            if bytes.count > 1 << 16 { throw Failure(.usage, code: "bad_config", "\(path) is too large to be an opsctl config") }
        }
        return try StoredConfig.parse(String(decoding: bytes, as: UTF8.self), path: path)
    }

    /// Writes the file atomically with mode 0600 (a new file beside it, then rename), creating
    /// the folder with mode 0700 when missing.
    public static func save(_ config: StoredConfig, path: String) throws {
        guard let slash = path.lastIndex(of: "/") else {
            throw Failure(.failure, code: "config_unwritable", "config path \(path) is not absolute")
        }
        let dir = String(path[..<slash])
        try makeDirectories(dir)
        let temp = path + ".tmp-\(getpid())"
        let fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else {
            throw Failure(.failure, code: "config_unwritable", "cannot create \(temp): \(String(cString: strerror(errno)))")
        }
        var ok = false
        defer {
            if !ok { unlink(temp) }
        }
        // The umask cannot widen 0600, but make sure of the mode whatever created the file.
        guard fchmod(fd, 0o600) == 0 else {
            close(fd)
            throw Failure(.failure, code: "config_unwritable", "cannot chmod \(temp): \(String(cString: strerror(errno)))")
        }
        let bytes = Array(config.serialized().utf8)
        var written = 0
        while written < bytes.count {
            let n = bytes[written...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                let message = String(cString: strerror(errno))
                close(fd)
                throw Failure(.failure, code: "config_unwritable", "cannot write \(temp): \(message)")
            }
            written += n
        }
        _ = fsync(fd)
        close(fd)
        guard rename(temp, path) == 0 else {
            throw Failure(.failure, code: "config_unwritable", "cannot replace \(path): \(String(cString: strerror(errno)))")
        }
        ok = true
    }

    static func makeDirectories(_ dir: String) throws {
        var st = stat()
        if stat(dir, &st) == 0 { return }
        if let slash = dir.lastIndex(of: "/"), slash != dir.startIndex {
            try makeDirectories(String(dir[..<slash]))
        }
        if mkdir(dir, 0o700) != 0, errno != EEXIST {
            throw Failure(.failure, code: "config_unwritable", "cannot create \(dir): \(String(cString: strerror(errno)))")
        }
    }
}

/// Where the server URL, token and CA file come from: flags, then environment, then the config
/// file. The config file's token is sent only to the config file's own URL, so pointing
/// `OPSCTL_URL`/`--url` at another server never hands it the stored token.
public struct Settings: Equatable, Sendable {
    public enum Source: String, Sendable { case flag, environment, configFile = "config file" }

    public var url: String
    public var token: String?
    public var tokenSource: Source?
    public var caFile: String?
    /// Set when the config file's token was not used because the URL came from elsewhere.
    public var ignoredStoredTokenFor: String?

    public init(url: String, token: String?, tokenSource: Source?, caFile: String?, ignoredStoredTokenFor: String? = nil) {
        self.url = url
        self.token = token
        self.tokenSource = tokenSource
        self.caFile = caFile
        self.ignoredStoredTokenFor = ignoredStoredTokenFor
    }

    /// `loadFile` is called only when a value is still missing after flags and environment.
    public static func resolve(urlFlag: String?, tokenFlag: String?, caFlag: String?, environment env: [String: String],
                               loadFile: () throws -> StoredConfig?) throws -> Settings {
        func nonEmpty(_ s: String?) -> String? { (s?.isEmpty ?? true) ? nil : s }
        var url = nonEmpty(urlFlag) ?? nonEmpty(env["OPSCTL_URL"])
        var token: String? = nonEmpty(tokenFlag)
        var source: Source? = token == nil ? nil : .flag
        if token == nil, let t = nonEmpty(env["OPSCTL_TOKEN"]) {
            token = t
            source = .environment
        }
        var ignored: String?
        var storedCA: String?
        let caGiven = nonEmpty(caFlag) ?? nonEmpty(env["OPSCTL_CACERT"])
        // The file is needed for a missing URL or token (then a problem with it is an error);
        // for its CA file only, a file that cannot be used is passed over.
        let stored: StoredConfig?
        if url == nil || token == nil {
            stored = try loadFile()
        } else {
            stored = caGiven == nil ? ((try? loadFile()) ?? nil) : nil
        }
        if let stored {
            let storedURL = nonEmpty(stored.url).flatMap { try? ServerURL.normalize($0) }
            if url == nil { url = storedURL }
            if token == nil, let t = nonEmpty(stored.token) {
                let target = url.flatMap { try? ServerURL.normalize($0) }
                if storedURL != nil, target == storedURL {
                    token = t
                    source = .configFile
                } else {
                    ignored = storedURL ?? "(no URL)"
                }
            }
            if let u = url.flatMap({ try? ServerURL.normalize($0) }), u == storedURL { storedCA = nonEmpty(stored.cacert) }
        }
        guard let rawURL = url else {
            throw Failure(.usage, code: "no_url", "no server URL: set OPSCTL_URL, pass --url, or run `opsctl login --url URL`")
        }
        let normalized = try ServerURL.normalize(rawURL)
        let ca = caGiven ?? storedCA
        return Settings(url: normalized, token: token, tokenSource: source, caFile: ca, ignoredStoredTokenFor: ignored)
    }

    /// The token, or the auth failure that says how to configure one.
    public func requireToken() throws -> String {
        if let token { return token }
        if let other = ignoredStoredTokenFor {
            throw Failure(.auth, code: "no_token",
                          "no token for \(url): the config file's token is for \(other); set OPSCTL_TOKEN or run `opsctl login --url \(url)`")
        }
        throw Failure(.auth, code: "no_token", "no token configured: set OPSCTL_TOKEN or run `opsctl login`")
    }
}

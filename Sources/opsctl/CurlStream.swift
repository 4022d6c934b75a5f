import CCurl
import OpsCtlCore
#if canImport(Glibc)
import Glibc
#endif

/// A raw byte stream to the server through libcurl (CURLOPT_CONNECT_ONLY): TCP, plus TLS with
/// the same verification (and CA file) as every REST request when the URL is https. The
/// WebSocket protocol on top of it is OpsCtlCore's.
final class CurlStream {
    enum StreamError: Error {
        /// No connection (refused, DNS, TLS, timeout): libcurl's message.
        case connect(String, timedOut: Bool)
        /// The connection broke or was closed.
        case io(String)
        case timeout
    }

    private let handle: UnsafeMutableRawPointer
    private var socket: Int32 = -1

    private static let globalInit: Void = { curl_global_init(Int(CURL_GLOBAL_ALL)) }()

    /// Connects to `url`'s host and port (an http:// or https:// URL; its path is not used).
    init(url: String, caFile: String?, timeoutMillis: Int) throws {
        _ = CurlStream.globalInit
        guard let h = curl_easy_init() else { throw StreamError.connect("curl_easy_init failed", timedOut: false) }
        handle = h
        var errorBuffer = [CChar](repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
        let code: CURLcode = errorBuffer.withUnsafeMutableBufferPointer { errBuf in
            _ = ops_curl_setopt_string(h, CURLOPT_URL, url)
            _ = ops_curl_setopt_long(h, CURLOPT_CONNECT_ONLY, 1)
            _ = ops_curl_setopt_long(h, CURLOPT_NOSIGNAL, 1)
            _ = ops_curl_setopt_long(h, CURLOPT_CONNECTTIMEOUT_MS, max(1, timeoutMillis))
            _ = ops_curl_setopt_long(h, CURLOPT_SSL_VERIFYPEER, 1)
            _ = ops_curl_setopt_long(h, CURLOPT_SSL_VERIFYHOST, 2)
            _ = ops_curl_setopt_string(h, CURLOPT_PROTOCOLS_STR, "http,https")
            // Through an HTTP proxy (from the environment), tunnel: the bytes are ours, not HTTP.
            _ = ops_curl_setopt_long(h, CURLOPT_HTTPPROXYTUNNEL, 1)
            // TLS ALPN offers http/1.1 only: the WebSocket upgrade is an HTTP/1.1 request.
            _ = ops_curl_setopt_long(h, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_1_1)
            _ = ops_curl_setopt_pointer(h, CURLOPT_ERRORBUFFER, errBuf.baseAddress)
            if let caFile { _ = ops_curl_setopt_string(h, CURLOPT_CAINFO, caFile) }
            let result = curl_easy_perform(h)
            _ = ops_curl_setopt_pointer(h, CURLOPT_ERRORBUFFER, nil)
            return result
        }
        guard code == CURLE_OK else {
            let detail = String(cString: errorBuffer)
            let message = detail.isEmpty ? String(cString: curl_easy_strerror(code)) : detail
            // deinit cleans the handle up (the object is complete, so it runs on a throw too).
            throw StreamError.connect(message, timedOut: code == CURLE_OPERATION_TIMEDOUT)
        }
        // CURLINFO_ACTIVESOCKET stores a curl_socket_t (an int) where it is given a pointer: a
        // long set to 0 holds it in its low half (little-endian, as on every Linux Swift runs on).
        var fd = 0
        if ops_curl_getinfo_long(h, CURLINFO_ACTIVESOCKET, &fd) == CURLE_OK {
            socket = Int32(truncatingIfNeeded: fd)
        }
    }

    deinit { curl_easy_cleanup(handle) }

    /// Waits until the socket is readable (or writable), at most `millis`; true when it is.
    func wait(readable: Bool, millis: Int32) -> Bool {
        guard socket >= 0 else {
            usleep(UInt32(min(millis, 50)) * 1000)
            return true
        }
        var p = pollfd(fd: socket, events: Int16(readable ? POLLIN : POLLOUT), revents: 0)
        let n = poll(&p, 1, millis)
        return n > 0
    }

    func send(_ bytes: [UInt8], timeoutMillis: Int32 = 10_000) throws {
        var offset = 0
        while offset < bytes.count {
            var sent = 0
            let code = bytes[offset...].withUnsafeBytes { curl_easy_send(handle, $0.baseAddress, $0.count, &sent) }
            if code == CURLE_AGAIN {
                guard wait(readable: false, millis: timeoutMillis) else { throw StreamError.timeout }
                continue
            }
            guard code == CURLE_OK else { throw StreamError.io(String(cString: curl_easy_strerror(code))) }
            offset += sent
        }
    }

    /// What has arrived: nil when nothing is there yet, [] when the peer closed the connection.
    func receiveAvailable(max: Int = 64 << 10) throws -> [UInt8]? {
        var buffer = [UInt8](repeating: 0, count: max)
        var got = 0
        let code = buffer.withUnsafeMutableBytes { curl_easy_recv(handle, $0.baseAddress, $0.count, &got) }
        if code == CURLE_AGAIN { return nil }
        guard code == CURLE_OK else { throw StreamError.io(String(cString: curl_easy_strerror(code))) }
        return Array(buffer[0..<got])
    }
}

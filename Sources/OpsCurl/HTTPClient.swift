import CCurl
import Foundation

/// What one HTTP exchange gave: the status and headers of the final response, the body, and
/// how long it took; or the transport error (timeout, refused, TLS) when there was none.
public struct HTTPExchange: Sendable {
    public var status: Int
    /// Header names lower-cased, in the order received (the final response's only).
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]
    public var totalMillis: Double
    /// Transport failure (no response): curl's message, e.g. "Operation timed out after 200 ms".
    public var error: String?
    public var timedOut: Bool

    public func header(_ name: String) -> String? {
        let n = name.lowercased()
        return headers.last(where: { $0.name == n })?.value
    }
    public var bodyText: String { String(decoding: body, as: UTF8.self) }
}

/// A blocking HTTP(S) client on libcurl, one call per request. TLS certificates are verified
/// (optionally against a given CA file). Safe to call from many threads at once: each call has
/// its own easy handle.
public enum HTTPClient {
    private static let globalInit: Void = { curl_global_init(Int(CURL_GLOBAL_ALL)) }()

    /// Default cap on what is kept of a response body: probes and webhooks need little of it.
    /// A caller that downloads (opsctl's bundle, long log tails) passes its own.
    public static let maxBodyBytes = 1 << 20

    public static func perform(method: String = "GET", url: String, headers: [String] = [],
                               body: [UInt8]? = nil, timeoutMillis: Int, caFile: String? = nil,
                               followRedirects: Bool = false, maxBodyBytes: Int = HTTPClient.maxBodyBytes) -> HTTPExchange {
        _ = globalInit
        guard let h = curl_easy_init() else {
            return HTTPExchange(status: 0, headers: [], body: [], totalMillis: 0, error: "curl_easy_init failed", timedOut: false)
        }
        defer { curl_easy_cleanup(h) }
        let sink = Sink(limit: maxBodyBytes)
        let sinkPtr = Unmanaged.passUnretained(sink).toOpaque()
        var list: UnsafeMutablePointer<curl_slist>? = nil
        defer { if let list { curl_slist_free_all(list) } }
        for header in headers { list = curl_slist_append(list, header) }
        // Keeps the body bytes alive until perform returns.
        let bodyData = body.map { Data($0) } ?? Data()
        var errorBuffer = [CChar](repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)

        let code: CURLcode = errorBuffer.withUnsafeMutableBufferPointer { errBuf in
            bodyData.withUnsafeBytes { (raw: UnsafeRawBufferPointer) -> CURLcode in
                _ = ops_curl_setopt_string(h, CURLOPT_URL, url)
                _ = ops_curl_setopt_long(h, CURLOPT_NOSIGNAL, 1)
                _ = ops_curl_setopt_long(h, CURLOPT_TIMEOUT_MS, max(1, timeoutMillis))
                _ = ops_curl_setopt_long(h, CURLOPT_CONNECTTIMEOUT_MS, max(1, timeoutMillis))
                _ = ops_curl_setopt_long(h, CURLOPT_FOLLOWLOCATION, followRedirects ? 1 : 0)
                _ = ops_curl_setopt_long(h, CURLOPT_SSL_VERIFYPEER, 1)
                _ = ops_curl_setopt_long(h, CURLOPT_SSL_VERIFYHOST, 2)
                // http and https only: a configured target can never read files or talk gopher.
                _ = ops_curl_setopt_string(h, CURLOPT_PROTOCOLS_STR, "http,https")
                _ = ops_curl_setopt_string(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https")
                _ = ops_curl_setopt_string(h, CURLOPT_USERAGENT, "opsplane-monitor/1")
                _ = ops_curl_setopt_pointer(h, CURLOPT_ERRORBUFFER, errBuf.baseAddress)
                if let caFile { _ = ops_curl_setopt_string(h, CURLOPT_CAINFO, caFile) }
                if let list { _ = ops_curl_setopt_slist(h, CURLOPT_HTTPHEADER, list) }
                _ = ops_curl_setopt_write_function(h, writeBody)
                _ = ops_curl_setopt_pointer(h, CURLOPT_WRITEDATA, sinkPtr)
                _ = ops_curl_setopt_header_function(h, writeHeader)
                _ = ops_curl_setopt_pointer(h, CURLOPT_HEADERDATA, sinkPtr)
                switch method {
                case "GET": break
                case "HEAD": _ = ops_curl_setopt_long(h, CURLOPT_NOBODY, 1)
                default: _ = ops_curl_setopt_string(h, CURLOPT_CUSTOMREQUEST, method)
                }
                if body != nil {
                    _ = ops_curl_setopt_long(h, CURLOPT_POST, 1)
                    _ = ops_curl_setopt_pointer(h, CURLOPT_POSTFIELDS, UnsafeMutableRawPointer(mutating: raw.baseAddress ?? UnsafeRawPointer(bitPattern: 1)!))
                    _ = ops_curl_setopt_long(h, CURLOPT_POSTFIELDSIZE, raw.count)
                }
                return curl_easy_perform(h)
            }
        }
        var status = 0
        var total = 0.0
        var s = 0
        if ops_curl_getinfo_long(h, CURLINFO_RESPONSE_CODE, &s) == CURLE_OK { status = s }
        _ = ops_curl_getinfo_double(h, CURLINFO_TOTAL_TIME, &total)
        var error: String? = nil
        if code != CURLE_OK {
            let detail = String(cString: errorBuffer)
            error = detail.isEmpty ? String(cString: curl_easy_strerror(code)) : detail
        }
        return HTTPExchange(status: status, headers: sink.headers, body: sink.body, totalMillis: total * 1000,
                            error: error, timedOut: code == CURLE_OPERATION_TIMEDOUT)
    }
}

private final class Sink {
    let limit: Int
    init(limit: Int) { self.limit = limit }
    var body: [UInt8] = []
    var headers: [(name: String, value: String)] = []
}

private func writeBody(_ ptr: UnsafeMutablePointer<CChar>?, _ size: Int, _ count: Int, _ userdata: UnsafeMutableRawPointer?) -> Int {
    let n = size * count
    guard let ptr, let userdata else { return n }
    let sink = Unmanaged<Sink>.fromOpaque(userdata).takeUnretainedValue()
    let room = max(0, sink.limit - sink.body.count)
    if room > 0 {
        ptr.withMemoryRebound(to: UInt8.self, capacity: n) { sink.body.append(contentsOf: UnsafeBufferPointer(start: $0, count: min(n, room))) }
    }
    return n
}

private func writeHeader(_ ptr: UnsafeMutablePointer<CChar>?, _ size: Int, _ count: Int, _ userdata: UnsafeMutableRawPointer?) -> Int {
    let n = size * count
    guard let ptr, let userdata else { return n }
    let sink = Unmanaged<Sink>.fromOpaque(userdata).takeUnretainedValue()
    let line = ptr.withMemoryRebound(to: UInt8.self, capacity: n) { String(decoding: UnsafeBufferPointer(start: $0, count: n), as: UTF8.self) }
    if line.hasPrefix("HTTP/") {
        sink.headers.removeAll()   // a new response (after 100-continue or a redirect)
    } else if let colon = line.firstIndex(of: ":") {
        let name = line[..<colon].trimmingCharacters(in: .whitespaces).lowercased()
        let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespacesAndNewlines)
        sink.headers.append((name, value))
    }
    return n
}

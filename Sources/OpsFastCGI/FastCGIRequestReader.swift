import CFCGI
import OpsHTTP
#if canImport(Glibc)
import Glibc
#endif

/// The parts of an accepted FastCGI request, copied out of libfcgi's memory at once: libfcgi
/// frees its parameter strings on the next accept or finish (FIELD-NOTES).
struct FastCGIParams {
    var method = "GET"
    var requestURI = "/"
    var queryString = ""
    var contentLength: Int?
    var contentType: String?
    var remoteAddress = ""
    var proxyRequestID: String?
    var role: String?
    var subject: String?
    var isAuthSubrequest = false
    /// HTTP_* parameters as lowercase header names (`HTTP_X_REQUEST_ID` → `x-request-id`).
    var headers: [String: String] = [:]

    init(envp: FCGX_ParamArray?) {
        guard var p = envp else { return }
        while let entry = p.pointee {
            let pair = String(cString: entry)
            p += 1
            guard let eq = pair.firstIndex(of: "=") else { continue }
            let name = pair[..<eq]
            let value = String(pair[pair.index(after: eq)...])
            if name.hasPrefix("HTTP_") {
                headers[String(name.dropFirst(5).lowercased().map { $0 == "_" ? "-" : $0 })] = value
                continue
            }
            switch name {
            case "REQUEST_METHOD": method = value
            case "REQUEST_URI": requestURI = value
            case "QUERY_STRING": queryString = value
            case "CONTENT_LENGTH": contentLength = value.isEmpty ? nil : Int(value) ?? -1
            case "CONTENT_TYPE": contentType = value
            case "REMOTE_ADDR": remoteAddress = value
            case "OPS_REQUEST_ID": proxyRequestID = value
            // Identity set by nginx after auth_request; the names have no HTTP_ prefix, so no
            // client header can produce them.
            case "OPS_ROLE": role = value.isEmpty ? nil : value
            case "OPS_SUBJECT": subject = value.isEmpty ? nil : value
            case "OPS_AUTH_REQUEST": isAuthSubrequest = value == "1"
            default: break
            }
        }
        if let contentType { headers["content-type"] = contentType }
        if let contentLength { headers["content-length"] = String(contentLength) }
    }

    /// The path part of REQUEST_URI (nginx passes it raw, with the query string).
    var rawPath: String {
        if let q = requestURI.firstIndex(of: "?") { return String(requestURI[..<q]) }
        return requestURI
    }
}

enum BodyReadError: Error {
    case tooLarge
    case badLength
    case incomplete(received: Int, declared: Int)
}

/// Reads exactly CONTENT_LENGTH bytes from the request's input stream, refusing bodies over
/// `limit` before reading any of them.
func readBody(_ stream: UnsafeMutablePointer<FCGX_Stream>?, contentLength: Int?, limit: Int) throws(BodyReadError) -> [UInt8] {
    guard let length = contentLength, length != 0 else { return [] }
    guard length > 0 else { throw .badLength }
    guard length <= limit else { throw .tooLarge }
    var body = [UInt8](repeating: 0, count: length)
    var received = 0
    body.withUnsafeMutableBufferPointer { buf in
        buf.baseAddress!.withMemoryRebound(to: CChar.self, capacity: length) { base in
            while received < length {
                let n = FCGX_GetStr(base + received, Int32(min(length - received, 65536)), stream)
                if n <= 0 { break }
                received += Int(n)
            }
        }
    }
    guard received == length else { throw .incomplete(received: received, declared: length) }
    return body
}

/// Reads and drops the rest of the input, so that nginx, which is still sending a body we
/// refused, gets our answer instead of a reset connection.
func discardInput(_ stream: UnsafeMutablePointer<FCGX_Stream>?) {
    var scratch = [CChar](repeating: 0, count: 65536)
    while FCGX_GetStr(&scratch, Int32(scratch.count), stream) > 0 {}
}

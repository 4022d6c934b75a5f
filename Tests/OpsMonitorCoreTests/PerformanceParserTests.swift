import OpsJSON
import OpsMonitorCore
import Testing

/// One line as nginx's `opsplane_json` format writes it (nginx/opsplane-http.conf).
func nginxLine(msec: String = "1732240943.123", uri: String = "/api/ops/summary", status: String = "200",
               requestTime: String = "0.004", userAgent: String = "curl/8.0") -> String {
    #"{"ts":"2024-11-22T02:02:23+00:00","msec":\#(msec),"method":"GET","uri":"\#(uri)","status":\#(status),"request_time":\#(requestTime),"upstream_response_time":"0.004","bytes_sent":512,"request_id":"abc123","remote_addr":"127.0.0.1","upstream_addr":"unix:/tmp/fcgi-1.sock","user_agent":"\#(userAgent)"}"#
}

@Suite struct AccessLogParserTests {
    @Test func readsTheFourFieldsOfAnNginxLine() throws {
        let e = try #require(AccessLogParser.parse(nginxLine()))
        #expect(close(e.epochSeconds, 1732240943.123))
        #expect(e.status == 200)
        #expect(e.requestTimeSeconds == 0.004)
        #expect(!e.uriEscaped)
        let line = Array(nginxLine().utf8)
        #expect(String(decoding: line[e.uri], as: UTF8.self) == "/api/ops/summary")
    }

    @Test func acceptsNumericStringsAndAnyMemberOrder() throws {
        let e = try #require(AccessLogParser.parse(
            #"  {"uri":"/x","nested":{"a":[1,2,{"b":null}],"c":true},"request_time":"1.5","status":"404","msec":"1700000000"}  "#))
        #expect(e.status == 404 && e.requestTimeSeconds == 1.5 && e.epochSeconds == 1_700_000_000)
    }

    @Test func readsExponentsAndLongNumbersThroughStrtod() throws {
        let e = try #require(AccessLogParser.parse(nginxLine(msec: "1.7e9", requestTime: "12345678901234567890e-20")))
        #expect(e.epochSeconds == 1.7e9)
        #expect(abs(e.requestTimeSeconds - 0.1234567890123456789) < 1e-12)
    }

    @Test func decodesEscapedURIs() throws {
        let text = nginxLine(uri: #"/api/ops/alerts/7/ack?q=\"x\"\\\u00e9\ud83d\ude00\n"#)
        let e = try #require(AccessLogParser.parse(text))
        #expect(e.uriEscaped)
        let line = Array(text.utf8)
        let raw = line[e.uri].withUnsafeBytes { AccessLogParser.unescape($0) }
        #expect(String(decoding: raw, as: UTF8.self) == "/api/ops/alerts/7/ack?q=\"x\"\\é😀\n")
    }

    @Test func refusesWhatIsNotACompleteLine() {
        let good = nginxLine()
        let bad = [
            "", "   ", "{}", "[1,2]", "null", #"{"msec":1}"#,
            good + " trailing", good + good, String(good.dropLast()), String(good.dropFirst()),
            nginxLine(status: "200.5"), nginxLine(status: "1000"), nginxLine(status: "-1"), nginxLine(status: #""abc""#),
            nginxLine(msec: "-5"), nginxLine(msec: "0"), nginxLine(msec: "1e400"), nginxLine(msec: "01"),
            nginxLine(requestTime: "-0.1"), nginxLine(requestTime: #""""#), nginxLine(requestTime: "1."),
            nginxLine(uri: "/a\u{01}b"), nginxLine(uri: #"/a\xb"#), nginxLine(uri: #"/a\u12"#),
            nginxLine(userAgent: #"bad \q escape"#), good.replacing(#""uri":"/api/ops/summary""#, with: #""uri":5"#),
            good.replacing(#""bytes_sent":512"#, with: #""bytes_sent":tru"#), good.replacing(",", with: ",,"),
        ]
        for line in bad {
            #expect(AccessLogParser.parse(line) == nil, "accepted: \(line)")
        }
    }

    @Test func acceptsBytesThatAreNotUTF8() throws {
        var bytes = Array(nginxLine(uri: "/api/ops/summary/XX").utf8)
        let at = bytes.firstIndex(of: UInt8(ascii: "X"))!
        bytes[at] = 0xFF
        bytes[at + 1] = 0xC3
        let e = bytes.withUnsafeBytes { AccessLogParser.parse($0) }
        #expect(e != nil)
    }

    /// Against jansson on thousands of mangled lines: whatever jansson reads as a valid line,
    /// the hand parser reads the same way; whatever it refuses, the hand parser refuses too,
    /// except what jansson refuses on purpose (duplicate keys, \u0000, number overflow).
    @Test func agreesWithJanssonOnMangledLines() throws {
        var rng = SplitMix(seed: 42)
        let alphabet = Array(#"{}[]",:\0123456789-.eE+ tfnu/a"#.utf8)
        let seeds = [nginxLine(), nginxLine(uri: #"/a?b=\"c\""#), #"{"msec":1.5,"status":500,"request_time":0,"uri":"/","x":[{"y":-1.25e3}]}"#]
        var compared = 0
        var accepted = 0
        for seed in seeds {
            let base = Array(seed.utf8)
            for _ in 0..<4000 {
                var line = base
                for _ in 0..<(1 + Int(rng.next() % 3)) {
                    let at = Int(rng.next() % UInt64(line.count))
                    switch rng.next() % 3 {
                    case 0: line[at] = alphabet[Int(rng.next() % UInt64(alphabet.count))]
                    case 1: line.remove(at: at)
                    default: line.insert(alphabet[Int(rng.next() % UInt64(alphabet.count))], at: at)
                    }
                    if line.isEmpty { line = [0x20] }
                }
                let mine = line.withUnsafeBytes { AccessLogParser.parse($0) }
                let theirs = Self.janssonEntry(line)
                compared += 1
                switch (mine, theirs) {
                case (nil, nil): break
                case let (m?, t?):
                    accepted += 1
                    #expect(close(m.epochSeconds, t.msec) && m.status == t.status && close(m.requestTimeSeconds, t.requestTime),
                            "values differ on \(String(decoding: line, as: UTF8.self))")
                case (_?, nil):
                    let janssonError = Self.janssonError(line)
                    let allowed = ["duplicate", "NUL", "overflow", "too big"].contains { janssonError.contains($0) }
                    #expect(allowed, "hand parser accepted what jansson refused (\(janssonError)): \(String(decoding: line, as: UTF8.self))")
                case (nil, _?):
                    Issue.record("hand parser refused a line jansson reads: \(String(decoding: line, as: UTF8.self))")
                }
            }
        }
        #expect(compared == 12_000)
        #expect(accepted > 500 && accepted < 11_000, "the mangling should keep some lines valid and break most: \(accepted)")
    }

    /// What jansson makes of a line, under the same rules (object, four fields, ranges).
    static func janssonEntry(_ line: [UInt8]) -> (msec: Double, status: Int, requestTime: Double)? {
        guard let json = try? JSON.parse(line), let o = json.objectValue else { return nil }
        func number(_ key: String) -> Double? {
            switch o[key] {
            case .int(let i)?: return Double(i)
            case .double(let d)?: return d
            case .string(let s)?:
                guard let inner = try? JSON.parse(s) else { return nil }
                if case .int(let i) = inner, s.first != " ", s.last != " " { return Double(i) }
                if case .double(let d) = inner, s.first != " ", s.last != " " { return d }
                return nil
            default: return nil
            }
        }
        guard case .string? = o["uri"], let msec = number("msec"), msec.isFinite, msec > 0, msec < 1e11,
              let status = number("status"), status >= 0, status <= 999, status == status.rounded(),
              let rt = number("request_time"), rt.isFinite, rt >= 0 else { return nil }
        return (msec, Int(status), rt)
    }

    static func janssonError(_ line: [UInt8]) -> String {
        do { _ = try JSON.parse(line); return "" } catch { return "\(error)" }
    }
}

/// Equal but for the last bits (the parser adds integer and fraction; strtod rounds once).
func close(_ a: Double, _ b: Double) -> Bool { abs(a - b) <= 1e-15 * max(1, abs(a), abs(b)) }

/// A small deterministic random generator (tests must not depend on the run).
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func double() -> Double { Double(next() >> 11) / Double(1 << 53) }
}

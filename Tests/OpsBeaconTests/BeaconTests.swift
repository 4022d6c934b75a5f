import Foundation
import OpsActivity
import OpsBeacon
import OpsJSON
import Testing

@Suite struct FingerprintTests {
    let chrome1 = """
        TypeError: Cannot read properties of undefined (reading 'id')
            at renderRow (https://app.example.com/assets/table.3f9a12bc.js:10:5)
            at Array.map (<anonymous>)
            at renderTable (https://app.example.com/assets/table.3f9a12bc.js:44:12)
            at main (https://app.example.com/assets/app.js?v=1:2:1)
        """
    // The same error after a rebuild: new hash in the file name, other line numbers, other host.
    let chrome2 = """
        TypeError: Cannot read properties of undefined (reading 'id')
            at renderRow (https://staging.example.com/assets/table.77aa01ee.js:12:9)
            at Array.map (<anonymous>)
            at renderTable (https://staging.example.com/assets/table.77aa01ee.js:51:3)
        """

    @Test func sameErrorAcrossBuildsGroups() {
        #expect(Fingerprint.of(message: "x", stack: chrome1, errorType: nil) == Fingerprint.of(message: "y", stack: chrome2, errorType: nil))
        #expect(Fingerprint.topFrames(chrome1) == ["renderRow@table.js", "Array.map@<anonymous>", "renderTable@table.js"])
    }

    @Test func firefoxFrames() {
        let ff = "renderRow@https://app.example.com/assets/table.3f9a12bc.js:10:5\n@https://app.example.com/assets/app.js:2:1\n"
        #expect(Fingerprint.topFrames(ff) == ["renderRow@table.js", "<anonymous>@app.js"])
    }

    @Test func differentFunctionsDoNotGroup() {
        let other = chrome1.replacingOccurrences(of: "renderRow", with: "renderCell")
        #expect(Fingerprint.of(message: "x", stack: chrome1, errorType: nil) != Fingerprint.of(message: "x", stack: other, errorType: nil))
    }

    @Test func messagesWithoutStacksGroupWithNumbersAndIdsStripped() {
        let a = Fingerprint.of(message: "Item 4411 not found in order 9f8e7d6c5b4a", stack: nil, errorType: "Error")
        let b = Fingerprint.of(message: "Item 97 not found in order 0123456789ab", stack: nil, errorType: "Error")
        let c = Fingerprint.of(message: "Item 97 not found in order 0123456789ab", stack: nil, errorType: "TypeError")
        #expect(a == b)
        #expect(a != c)
        #expect(Fingerprint.normalisedMessage("user 'bob' got 3 errors (id 550e8400-e29b-41d4-a716-446655440000)")
                == "user <str> got <n> errors (id <id>)")
        #expect(Fingerprint.normalisedMessage("h264 codec v2") == "h264 codec v2")
        #expect(a.hasPrefix("v1-") && a.count == 19)
    }
}

@Suite struct RouteTemplateTests {
    @Test func idsBecomePlaceholders() {
        #expect(RouteTemplate.of("/agents/4411/runs?tab=2#x") == "/agents/:id/runs")
        #expect(RouteTemplate.of("https://app.example.com/runs/550e8400-e29b-41d4-a716-446655440000") == "/runs/:id")
        #expect(RouteTemplate.of("/users/bob/settings") == "/users/bob/settings")
        #expect(RouteTemplate.of("") == "/")
        #expect(RouteTemplate.of("/a/b/c/d/e/f/g/h/i/j") == "/a/b/c/d/e/f/g/h")
        #expect(RouteTemplate.of("/" + String(repeating: "x", count: 500)).count <= RouteTemplate.maxLength)
    }
}

@Suite struct BeaconParserTests {
    func parse(_ text: String, max: Int = BeaconParser.defaultMaxBytes) -> Result<BeaconReport, BeaconRejection> {
        do { return .success(try BeaconParser.parse(Array(text.utf8), maxBytes: max)) } catch { return .failure(error) }
    }

    @Test func acceptsWhatBeaconJSSends() throws {
        let r = try parse("""
            {"message":"boom","stack":"Error: boom\\n    at f (https://h/app.js:1:2)","type":"Error","source":"onerror",
             "route":"/agents/12","build_hash":"abc123","browser":"Chrome 120","ws_state":1,"ts":1700000000000,
             "breadcrumbs":[{"t":"nav","to":"/agents/12"}]}
            """).get()
        #expect(r.route == "/agents/:id")
        #expect(r.wsState == "open")
        #expect(r.ts == UTCTime(seconds: 1_700_000_000))
        #expect(r.breadcrumbs == .array([["t": "nav", "to": "/agents/12"]]))
        #expect(r.fingerprint.hasPrefix("v1-"))
    }

    @Test func refusals() {
        func code(_ text: String, max: Int = BeaconParser.defaultMaxBytes) -> String? {
            if case .failure(let e) = parse(text, max: max) { return "\(e.status) \(e.code)" }
            return nil
        }
        #expect(code("[1,2]") == "400 not_object")
        #expect(code("\"text\"") == "400 not_object")
        #expect(code("{not json") == "400 invalid_json")
        #expect(code("{\"message\":\"x\",\"evil\":1}") == "400 unknown_field")
        #expect(code("{\"message\":5}") == "400 invalid_field")
        #expect(code("{\"route\":\"/x\"}") == "400 invalid_field")
        #expect(code("{\"message\":\"x\",\"ts\":\"yesterday\"}") == "400 invalid_field")
        #expect(code("{\"message\":\"x\",\"ws_state\":9}") == "400 invalid_field")
        #expect(code("{\"message\":\"\(String(repeating: "a", count: 300))\"}", max: 256) == "413 too_large")
    }

    @Test func hostileStringsAreKeptAsText() throws {
        let r = try parse(#"{"message":"<img src=x onerror=alert(1)>'; DROP TABLE ops.runs; --","route":"/../../etc/passwd"}"#).get()
        #expect(r.message == "<img src=x onerror=alert(1)>'; DROP TABLE ops.runs; --")
        #expect(r.route == "/../../etc/passwd")
    }

    @Test func durations() {
        #expect(RelativeDuration.seconds("5m", maxSeconds: 604_800) == 300)
        #expect(RelativeDuration.seconds("7d", maxSeconds: 604_800) == 604_800)
        #expect(RelativeDuration.seconds("8d", maxSeconds: 604_800) == nil)
        #expect(RelativeDuration.seconds("0m", maxSeconds: 604_800) == nil)
        #expect(RelativeDuration.seconds("m", maxSeconds: 604_800) == nil)
        #expect(RelativeDuration.seconds("99999999999999999d", maxSeconds: 604_800) == nil)
    }
}

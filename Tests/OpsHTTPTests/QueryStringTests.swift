import Testing
@testable import OpsHTTP

@Suite struct QueryStringTests {
    @Test func parsesPairsInOrderWithDecoding() throws {
        let q = try QueryString.parse("service=nginx&tail=200&msg=two+words&e=%C3%A9&flag")
        #expect(q["service"] == "nginx")
        #expect(q["tail"] == "200")
        #expect(q["msg"] == "two words")
        #expect(q["e"] == "é")
        #expect(q["flag"] == "")
        #expect(q["missing"] == nil)
    }

    @Test func keepsRepeatedNames() throws {
        #expect(try QueryString.parse("a=1&a=2&b=3").values("a") == ["1", "2"])
    }

    @Test(arguments: ["x=%ZZ", "x=%4", "x=%", "x=%FF", "x=%00", "%ZZ=1", "x=%C3%28"])
    func rejectsBadEncodingAs400(_ raw: String) {
        do {
            _ = try QueryString.parse(raw)
            Issue.record("\(raw) was accepted")
        } catch {
            #expect(error.status == 400)
            #expect(error.code == "bad_query")
        }
    }

    @Test func emptyAndStrayAmpersandsAreHarmless() throws {
        #expect(try QueryString.parse("").pairs.isEmpty)
        #expect(try QueryString.parse("&&a=1&").pairs.count == 1)
    }

    @Test func sqlLookingValuesAreJustText() throws {
        #expect(try QueryString.parse("q=%27%3B+DROP+TABLE+x%3B--")["q"] == "'; DROP TABLE x;--")
    }
}

@Suite struct PathDecodingTests {
    @Test func splitsAndDecodesSegments() throws {
        #expect(try Request.decodePath("/api/ops/alerts/a%2Fb/ack") == ["api", "ops", "alerts", "a/b", "ack"])
        #expect(try Request.decodePath("//api//ops/healthz/") == ["api", "ops", "healthz"])
        #expect(try Request.decodePath("/") == [])
    }

    @Test func plusStaysPlusInPaths() throws {
        #expect(try Request.decodePath("/a+b") == ["a+b"])
    }

    @Test(arguments: ["/api/ops/../ops/healthz", "/api/./ops", "/api/%2e%2e/x", "/api/%2E/x"])
    func dotSegmentsAre400(_ path: String) {
        #expect(throws: APIError.self) { try Request.decodePath(path) }
    }

    @Test func badEscapesInPathsAre400() {
        #expect(throws: APIError.self) { try Request.decodePath("/api/%zz") }
    }
}

import Testing
import OpsJSON
@testable import OpsHTTP

private func request(_ method: String, _ path: String, role: String? = nil) throws -> Request {
    Request(method: method, rawPath: path, segments: try Request.decodePath(path), query: QueryString(),
            headers: [:], body: [], remoteAddress: "127.0.0.1", requestID: "t-1", role: role, subject: nil)
}

private struct Ctx {}

private let router = Router<Ctx>([
    Route("GET", "/api/ops/healthz", access: .publicRoute) { _, _ in .json(["ok": true]) },
    Route("GET", "/api/ops/alerts", access: .admin) { _, _ in .json(["list": []]) },
    Route("POST", "/api/ops/alerts/{id}/ack", access: .admin) { r, _ in
        .json(["acked": .string(r.pathParameters["id"] ?? "")])
    },
    Route("POST", "/api/ops/ingest", access: .ingest) { _, _ in .json(["accepted": 0]) },
    Route("GET", "/api/ops/boom", access: .publicRoute) { _, _ in
        struct Boom: Error {}
        throw Boom()
    },
    Route("GET", "/api/ops/teapot", access: .publicRoute) { _, _ in
        throw APIError(status: 418, code: "teapot", message: "short and stout")
    },
])

private func body(_ r: Response) throws -> JSON { try JSON.parse(r.body) }

@Suite struct RouterTests {
    @Test func routesToHandlerWithPathParameters() throws {
        let r = router.dispatch(try request("POST", "/api/ops/alerts/a%20b/ack", role: "admin"), context: Ctx()) { _, _ in nil }
        #expect(r.status == 200)
        #expect(try body(r)["acked"] == "a b")
    }

    @Test func unknownPathIs404WithEnvelope() throws {
        let r = router.dispatch(try request("GET", "/api/ops/nope"), context: Ctx()) { _, _ in nil }
        #expect(r.status == 404)
        #expect(try body(r)["error"]?["code"] == "not_found")
        #expect(r.header("Content-Type") == "application/json")
    }

    @Test func wrongMethodIs405WithAllow() throws {
        let r = router.dispatch(try request("DELETE", "/api/ops/healthz"), context: Ctx()) { _, _ in nil }
        #expect(r.status == 405)
        #expect(r.header("Allow") == "GET, HEAD")
        #expect(try body(r)["error"]?["code"] == "method_not_allowed")
    }

    @Test func headIsAnsweredLikeGet() throws {
        let r = router.dispatch(try request("HEAD", "/api/ops/healthz"), context: Ctx()) { _, _ in nil }
        #expect(r.status == 200)
    }

    @Test func adminRouteWithoutRoleIs401() throws {
        let r = router.dispatch(try request("GET", "/api/ops/alerts"), context: Ctx()) { _, _ in nil }
        #expect(r.status == 401)
        #expect(try body(r)["error"]?["code"] == "unauthenticated")
    }

    @Test func adminRouteWithViewerRoleIs403() throws {
        let r = router.dispatch(try request("GET", "/api/ops/alerts", role: "viewer"), context: Ctx()) { _, _ in nil }
        #expect(r.status == 403)
    }

    @Test func ingestRouteRefusesAdmin() throws {
        let r = router.dispatch(try request("POST", "/api/ops/ingest", role: "admin"), context: Ctx()) { _, _ in nil }
        #expect(r.status == 403)
        let ok = router.dispatch(try request("POST", "/api/ops/ingest", role: "ingest"), context: Ctx()) { _, _ in nil }
        #expect(ok.status == 200)
    }

    @Test func unexpectedErrorIs500NamingTheRequestID() throws {
        let r = router.dispatch(try request("GET", "/api/ops/boom"), context: Ctx()) { _, _ in nil }
        #expect(r.status == 500)
        #expect(try body(r)["error"]?["message"]?.stringValue?.contains("t-1") == true)
    }

    @Test func mappedErrorIsUsed() throws {
        let r = router.dispatch(try request("GET", "/api/ops/boom"), context: Ctx()) { _, _ in
            APIError(status: 503, code: "database_unavailable", message: "down")
        }
        #expect(r.status == 503)
    }

    @Test func thrownAPIErrorKeepsItsStatus() throws {
        let r = router.dispatch(try request("GET", "/api/ops/teapot"), context: Ctx()) { _, _ in nil }
        #expect(r.status == 418)
        #expect(try body(r)["error"]?["message"] == "short and stout")
    }
}

@Suite struct RequestIDTests {
    @Test func keepsAcceptableClientID() {
        #expect(RequestID.choose(clientHeader: "abc-123_x.y", proxyID: "p") == "abc-123_x.y")
    }

    @Test(arguments: ["", "has space", "<script>", String(repeating: "a", count: 65), "new\nline"])
    func replacesUnsafeClientID(_ id: String) {
        #expect(RequestID.choose(clientHeader: id, proxyID: "0123abcd") == "0123abcd")
    }

    @Test func generatesDistinct32HexIDs() {
        let a = RequestID.generate(), b = RequestID.generate()
        #expect(a.count == 32 && a != b)
        #expect(RequestID.isAcceptable(a))
    }

    @Test func headerValuesCannotInjectHeaders() {
        #expect(HTTPHeader("X", "a\r\nSet-Cookie: x").sanitizedValue == "a  Set-Cookie: x")
    }
}

import Testing
import OpsJSON
@testable import OpsAuth

private let key = Array("0123456789abcdef0123456789abcdef".utf8)

@Suite struct Base64URLTests {
    @Test(arguments: [[], [0], [0, 1], [0, 1, 2], [255, 254, 253, 252], Array("hello world!?".utf8)])
    func roundTrips(_ bytes: [UInt8]) {
        #expect(Base64URL.decode(Base64URL.encode(bytes)) == bytes)
    }

    @Test func usesURLAlphabetWithoutPadding() {
        #expect(Base64URL.encode([0xFB, 0xFF]) == "-_8")
    }

    @Test(arguments: ["a", "ab=c", "a+b/", "é"])
    func refusesForeignInput(_ s: String) {
        #expect(Base64URL.decode(s) == nil)
    }
}

@Suite struct SessionCookieTests {
    let cookies = SessionCookie(secret: key)

    @Test func issuedCookieVerifies() throws {
        let c = cookies.issue(subject: "token:alice", role: .admin, expiresAt: 2_000)
        let id = try cookies.verify(c, now: 1_000)
        #expect(id == Identity(subject: "token:alice", role: .admin, source: .session, viaCookie: true))
    }

    @Test func expiredCookieIsRefused() {
        let c = cookies.issue(subject: "a", role: .admin, expiresAt: 1_000)
        #expect(throws: CredentialRejection.expired) { try cookies.verify(c, now: 1_000) }
    }

    @Test func tamperedPayloadIsRefused() {
        let c = cookies.issue(subject: "a", role: .viewer, expiresAt: 2_000)
        let parts = c.split(separator: ".")
        let forged = Base64URL.encode(Array(#"{"sub":"a","role":"admin","exp":2000}"#.utf8))
        #expect(throws: CredentialRejection.badSignature) { try cookies.verify("v1.\(forged).\(parts[2])", now: 1) }
    }

    @Test func otherKeyIsRefused() {
        let other = SessionCookie(secret: Array(repeating: 7, count: 32))
        let c = other.issue(subject: "a", role: .admin, expiresAt: 2_000)
        #expect(throws: CredentialRejection.badSignature) { try cookies.verify(c, now: 1) }
    }

    @Test(arguments: ["", "v1", "v1..", "v2.a.b", "v1.abc", "garbage.with.dots"])
    func malformedIsRefused(_ value: String) {
        #expect(throws: CredentialRejection.self) { try cookies.verify(value, now: 1) }
    }

    @Test func truncatedCookieIsRefused() {
        let c = cookies.issue(subject: "a", role: .admin, expiresAt: 2_000)
        #expect(throws: CredentialRejection.self) { try cookies.verify(String(c.dropLast(3)), now: 1) }
    }
}

@Suite struct JWTVerifierTests {
    let jwt = JWTVerifier(secret: key, adminClaim: "is_admin", leewaySeconds: 0)

    @Test func adminClaimMakesAnAdmin() throws {
        let t = jwt.sign(["sub": "u-1", "exp": 2_000, "is_admin": true])
        #expect(try jwt.verify(t, now: 1_000) == Identity(subject: "jwt:u-1", role: .admin, source: .jwt))
    }

    @Test(arguments: [JSON.bool(false), .string("user"), .array(["staff"]), .null])
    func otherwiseAViewer(_ claim: JSON) throws {
        let t = jwt.sign(["sub": "u-1", "exp": 2_000, "is_admin": claim])
        #expect(try jwt.verify(t, now: 1_000).role == .viewer)
    }

    @Test func roleArrayWithAdminCounts() throws {
        let j = JWTVerifier(secret: key, adminClaim: "roles")
        #expect(try j.verify(j.sign(["sub": "x", "exp": 2_000, "roles": ["staff", "admin"]]), now: 1).role == .admin)
    }

    @Test func expiredIsRefused() {
        let t = jwt.sign(["sub": "u", "exp": 1_000, "is_admin": true])
        #expect(throws: CredentialRejection.expired) { try jwt.verify(t, now: 1_000) }
    }

    @Test func notBeforeIsHonoured() {
        let t = jwt.sign(["sub": "u", "exp": 5_000, "nbf": 3_000])
        #expect(throws: CredentialRejection.notYetValid) { try jwt.verify(t, now: 2_000) }
    }

    @Test func missingExpIsRefused() {
        #expect(throws: CredentialRejection.malformed) { try jwt.verify(jwt.sign(["sub": "u"]), now: 1) }
    }

    @Test func otherKeyIsRefused() {
        let other = JWTVerifier(secret: Array(repeating: 1, count: 32), adminClaim: "is_admin")
        let t = other.sign(["sub": "u", "exp": 2_000, "is_admin": true])
        #expect(throws: CredentialRejection.badSignature) { try jwt.verify(t, now: 1) }
    }

    @Test func algNoneIsRefused() {
        let header = Base64URL.encode(Array(#"{"alg":"none","typ":"JWT"}"#.utf8))
        let claims = Base64URL.encode(Array(#"{"sub":"u","exp":9999999999,"is_admin":true}"#.utf8))
        #expect(throws: CredentialRejection.algorithmNotAllowed("none")) { try jwt.verify("\(header).\(claims).", now: 1) }
    }

    @Test func otherAlgorithmsAreRefusedEvenWithAValidMac() {
        // An HS512 header signed with HS256 must not pass: the algorithm is ours, not the token's.
        let header = Base64URL.encode(Array(#"{"alg":"HS512"}"#.utf8))
        let claims = Base64URL.encode(Array(#"{"sub":"u","exp":9999999999}"#.utf8))
        #expect(throws: CredentialRejection.algorithmNotAllowed("HS512")) { try jwt.verify("\(header).\(claims).x", now: 1) }
    }

    @Test func truncatedTokenIsRefused() {
        let t = jwt.sign(["sub": "u", "exp": 2_000])
        #expect(throws: CredentialRejection.self) { try jwt.verify(String(t.dropLast(5)), now: 1) }
    }
}

@Suite struct TokenFormatAndCookieParsingTests {
    @Test func generatedTokensHaveTheDocumentedShape() {
        let t = APITokenFormat.generate()
        #expect(t.hasPrefix("ops_") && t.count == 68)
        #expect(APITokenFormat.looksValid(t))
        #expect(t != APITokenFormat.generate())
    }

    @Test(arguments: ["", "ops_", "ops_xyz", "OPS_" + String(repeating: "a", count: 64), "ops_" + String(repeating: "G", count: 64)])
    func malformedTokensAreRejectedBeforeTheDatabase(_ t: String) {
        #expect(!APITokenFormat.looksValid(t))
    }

    @Test func parsesCookieHeader() {
        let c = parseCookies(#"a=1; ops_session=v1.x.y;  b="q"; a=2"#)
        #expect(c["a"] == "1")
        #expect(c["ops_session"] == "v1.x.y")
        #expect(c["b"] == "q")
        #expect(parseCookies(nil).isEmpty)
    }
}

@Suite struct JWTEdgeCaseTests {
    let jwt = JWTVerifier(secret: Array("0123456789abcdef0123456789abcdef".utf8), adminClaim: "is_admin", leewaySeconds: 0)

    @Test func nonNumericNbfIsRefused() {
        #expect(throws: CredentialRejection.malformed) { try jwt.verify(jwt.sign(["sub": "u", "exp": 5_000, "nbf": "later"]), now: 1_000) }
    }

    @Test func fractionalExpIsAccepted() throws {
        #expect(try jwt.verify(jwt.sign(["sub": "u", "exp": 2_000.5]), now: 1_000).subject == "jwt:u")
    }

    @Test func overlongSubjectIsRefused() {
        #expect(throws: CredentialRejection.malformed) {
            try jwt.verify(jwt.sign(["sub": .string(String(repeating: "x", count: 300)), "exp": 5_000]), now: 1)
        }
    }

    @Test func sessionCarriesTheTokenID() throws {
        let s = SessionCookie(secret: Array(repeating: 3, count: 32))
        let id = try s.verify(s.issue(subject: "token:a", role: .admin, expiresAt: 50, tokenID: 7), now: 1)
        #expect(id.tokenID == 7 && id.viaCookie)
    }
}

import OpsJSON
import OpsSupportBundle
import Testing

@Suite struct RedactorTests {
    @Test func secretsInTextAreReplacedAndCounted() {
        let r = Redactor()
        let token = "ops_" + String(repeating: "ab12", count: 16)
        let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJib2IifQ.c2lnbmF0dXJlLXNpZ25hdHVyZQ"
        let text = """
            Authorization: Bearer \(token) jwt=\(jwt)
            postgresql://opsplane:s3cr3t-pw@127.0.0.1:5432/opsplane
            GET /cb?user=bob&api_key=XYZ123&page=2 password="hunter2"
            https://discord.com/api/webhooks/123456/AbC-def_ghi
            -----BEGIN PRIVATE KEY-----
            MIIEvQIBADANBg
            -----END PRIVATE KEY-----
            """
        let out = r.redact(text)
        for secret in [String(token.dropFirst(4)), jwt, "s3cr3t-pw", "XYZ123", "hunter2", "AbC-def_ghi", "MIIEvQIBADANBg"] {
            #expect(!out.contains(secret), "\(secret) survived: \(out)")
        }
        #expect(out.contains("postgresql://opsplane:[REDACTED]@127.0.0.1:5432/opsplane"))
        #expect(out.contains("user=bob") && out.contains("page=2"), "harmless parameters stay: \(out)")
        #expect(out.contains("https://discord.com/api/webhooks/123456/[REDACTED]"))
        #expect(r.total >= 7)
    }

    @Test func valuesUnderSecretKeysAreReplacedWhole() {
        let r = Redactor()
        let out = r.redact(["OPS_SESSION_SECRET": "abcdefabcdefabcdefabcdefabcdefab", "OPS_PORT": "8080",
                            "nested": ["db_password": "x y z", "note": "fine"]] as JSON)
        #expect(out == ["OPS_SESSION_SECRET": "[REDACTED]", "OPS_PORT": "8080",
                        "nested": ["db_password": "[REDACTED]", "note": "fine"]] as JSON)
        let names = r.manifest.arrayValue?.compactMap { $0["name"]?.stringValue } ?? []
        #expect(names.contains("secret_key_names") && names.contains("api_token"))
    }

    @Test func ordinaryLogLinesAreUntouched() {
        let r = Redactor()
        let line = #"{"ts":"2026-11-22T03:56:37.354Z","level":"info","msg":"request","path":"/api/ops/summary","status":200}"#
        #expect(r.redact(line) == line)
        #expect(r.total == 0)
    }
}

@Suite struct BundleAssemblerTests {
    @Test func everythingFitsUnderALargeCap() {
        let a = BundleAssembler(capBytes: 1 << 20)
        let (bundle, sections) = a.assemble([.value("context", ["a": 1]), .unavailable("alerts", "boom"),
                                             .logs("logs", [("web", JSONObject(), ["l1", "l2"])])], manifest: JSONObject())
        #expect(bundle.keys == ["manifest", "context", "alerts", "logs"])
        #expect(sections.map { $0["status"]?.stringValue } == ["ok", "unavailable", "ok"])
        #expect(bundle["logs"]?["web"]?["lines"] == ["l1", "l2"])
    }

    @Test func logsLoseTheirOldestLinesWithAMarker() {
        let cap = BundleAssembler.manifestReserve + 20_000
        let lines = (0..<2000).map { "line \($0) " + String(repeating: "x", count: 40) }
        let (bundle, sections) = BundleAssembler(capBytes: cap).assemble(
            [.value("context", ["a": 1]), .logs("logs", [("web", JSONObject(), lines)])], manifest: JSONObject())
        let kept = bundle["logs"]?["web"]?["lines"]?.arrayValue ?? []
        #expect(kept.count > 10 && kept.count < 2000)
        #expect(kept.first?.stringValue?.hasPrefix("[… ") == true, "a marker says lines were dropped")
        #expect(kept.last?.stringValue == lines.last, "the newest line is kept")
        #expect(sections[1]["status"] == "truncated")
        let total = JSON.object(bundle).serializedBytes().count
        #expect(total <= cap, "bundle of \(total) bytes over the cap \(cap)")
    }

    @Test func anOversizedSectionBecomesAMarker() {
        let big: JSON = .string(String(repeating: "z", count: 100_000))
        let (bundle, sections) = BundleAssembler(capBytes: BundleAssembler.manifestReserve + 10_000)
            .assemble([.value("frontend_errors", big), .value("alerts", ["n": 0])], manifest: JSONObject())
        #expect(bundle["frontend_errors"]?["truncated"] == .bool(true))
        #expect(bundle["alerts"] == ["n": 0])
        #expect(sections[0]["status"] == "truncated")
    }
}

@Suite struct GzipTests {
    @Test func roundTrip() throws {
        let input = Array(String(repeating: "opsplane support bundle ", count: 5000).utf8)
        let packed = try #require(Gzip.compress(input))
        #expect(packed.count < input.count / 10)
        #expect(packed.prefix(2) == [0x1f, 0x8b], "a gzip header")
        #expect(Gzip.decompress(packed) == input)
        #expect(Gzip.compress([]).flatMap { Gzip.decompress($0) } == [])
    }
}

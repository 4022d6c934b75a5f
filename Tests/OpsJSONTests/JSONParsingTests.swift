import Testing
@testable import OpsJSON

@Suite struct JSONParsingTests {
    @Test func parsesNestedDocumentKeepingKeyOrder() throws {
        let v = try JSON.parse(#"{"b":1,"a":[true,null,2.5,"x"],"c":{"d":-7}}"#)
        #expect(v.objectValue?.keys == ["b", "a", "c"])
        #expect(v["a"]?[0] == .bool(true))
        #expect(v["a"]?[1] == .null)
        #expect(v["a"]?[2]?.doubleValue == 2.5)
        #expect(v["c"]?["d"]?.intValue == -7)
    }

    @Test func rejectsMalformedJSONWithPosition() {
        #expect(throws: JSONParseError.self) { try JSON.parse(#"{"a":"#) }
        do {
            _ = try JSON.parse("{\n  \"a\": tru }")
            Issue.record("malformed JSON was accepted")
        } catch let e as JSONParseError {
            #expect(e.line == 2)
            #expect(!e.message.isEmpty)
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }

    @Test func rejectsDuplicateKeys() {
        #expect(throws: JSONParseError.self) { try JSON.parse(#"{"a":1,"a":2}"#) }
    }

    @Test func rejectsEmbeddedNul() {
        #expect(throws: JSONParseError.self) { try JSON.parse(#"{"a":"x\u0000y"}"#) }
    }

    @Test func refusesHostileNestingWithoutCrashing() {
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        #expect(throws: JSONParseError.self) { try JSON.parse(deep) }
    }

    @Test func acceptsScalarDocuments() throws {
        #expect(try JSON.parse("42") == .int(42))
        #expect(try JSON.parse(#""hi""#) == .string("hi"))
    }

    @Test func keepsUnicodeStrings() throws {
        let v = try JSON.parse(#"{"s":"é \u263a 😀"}"#)
        #expect(v["s"]?.stringValue == "é ☺ 😀")
    }
}

@Suite struct JSONSerializingTests {
    @Test func serializesCompactlyInOrder() {
        let v: JSON = ["z": 1, "a": [true, nil, "q"], "m": ["k": 0.5]]
        #expect(v.serialized() == #"{"z":1,"a":[true,null,"q"],"m":{"k":0.5}}"#)
    }

    @Test func printsShortReals() {
        #expect(JSON.double(0.1).serialized() == "0.1")
        #expect(JSON.double(12.34).serialized() == "12.34")
    }

    @Test func nonFiniteNumbersBecomeNull() {
        #expect(JSON.double(.nan).serialized() == "null")
        #expect(JSON.double(.infinity).serialized() == "null")
    }

    @Test func escapesHostileStrings() throws {
        let hostile = "</script><b>\"quoted\"\n\u{0}nul"
        let text = JSON.string(hostile).serialized()
        #expect(!text.contains("\n"))
        #expect(try JSON.parse(JSON.object(JSONObject([("k", .string("ok"))])).serialized())["k"] == "ok")
        #expect(text.contains("\\u0000"))
    }

    @Test func roundTripsThroughParse() throws {
        let v: JSON = ["id": "r-1", "n": 9_007_199_254_740_993, "neg": -1.25, "list": [1, 2, 3], "o": [:]]
        #expect(try JSON.parse(v.serialized()) == v)
    }

    @Test func objectSubscriptReplacesInPlace() {
        var o = JSONObject([("a", 1), ("b", 2)])
        o["a"] = 3
        o["c"] = 4
        o["b"] = nil
        #expect(o.keys == ["a", "c"])
        #expect(o["a"] == 3)
    }
}

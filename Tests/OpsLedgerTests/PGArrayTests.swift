import Testing
@testable import OpsLedger

/// The array literal is the only way ingest values reach Postgres in bulk: an escaping
/// mistake would corrupt stored text or fail a whole batch.
@Suite struct PGArrayTests {
    @Test func quotesEveryElementAndWritesNull() {
        #expect(PGArray.literal([String?]()) == "{}")
        #expect(PGArray.literal(["a", nil, ""]) == #"{"a",NULL,""}"#)
        #expect(PGArray.literal(["NULL"]) == #"{"NULL"}"#)  // the word is quoted, so it stays text
    }

    @Test func escapesQuotesAndBackslashesOnly() {
        #expect(PGArray.literal([#"b"c"#, #"x\y"#, #"\""#]) == #"{"b\"c","x\\y","\\\""}"#)
        #expect(PGArray.literal(["{a,b}", "é🚀\u{2028}", "'; DROP TABLE x; --"])
                == #"{"{a,b}","é🚀\#u{2028}","'; DROP TABLE x; --"}"#)
    }

    /// The byte-level builder against the scalar-by-scalar rules it replaced, on random
    /// strings mixing ASCII, the two escaped characters and multi-byte scalars.
    @Test func matchesTheScalarReferenceOnRandomStrings() {
        func reference(_ values: [String?]) -> String {
            var out = "{"
            for (i, v) in values.enumerated() {
                if i > 0 { out += "," }
                guard let v else { out += "NULL"; continue }
                out += "\""
                for ch in v.unicodeScalars {
                    if ch == "\"" || ch == "\\" { out += "\\" }
                    out.unicodeScalars.append(ch)
                }
                out += "\""
            }
            return out + "}"
        }
        let alphabet: [Character] = ["a", "Z", "0", " ", ",", "{", "}", "\"", "\\", "é", "ß", "中", "🚀", "\u{7F}", "\n"]
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<2_000 {
            let values: [String?] = (0..<Int.random(in: 0...6, using: &rng)).map { _ in
                if Int.random(in: 0..<6, using: &rng) == 0 { return nil }
                return String((0..<Int.random(in: 0...12, using: &rng)).map { _ in alphabet.randomElement(using: &rng)! })
            }
            #expect(PGArray.literal(values) == reference(values), "values: \(values)")
        }
    }

    @Test func numbersAndBooleans() {
        #expect(PGArray.literal([Int64(5), nil, -7]) == #"{"5",NULL,"-7"}"#)
        #expect(PGArray.literal([true, false]) == #"{"t","f"}"#)
    }
}

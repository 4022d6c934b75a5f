import CJansson
#if canImport(Glibc)
import Glibc
#endif

/// Why a document could not be read as JSON, with the position libjansson reported.
public struct JSONParseError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public let line: Int
    public let column: Int
    public let position: Int

    public var description: String { "\(message) at line \(line), column \(column)" }
}

// libjansson flag values; the header defines them as macros, some with arguments that Swift
// cannot import.
private let decodeAny: Int = 0x4          // JSON_DECODE_ANY: a scalar is a valid document
private let rejectDuplicates: Int = 0x1   // JSON_REJECT_DUPLICATES
private let encodeCompact: Int = 0x20     // JSON_COMPACT
private let encodeAny: Int = 0x200        // JSON_ENCODE_ANY
/// JSON_REAL_PRECISION(15): 17 digits (the default) prints 0.1 as 0.10000000000000001.
private let realPrecision15: Int = (15 & 0x1F) << 11

extension JSON {
    /// Parses one JSON document. Duplicate object keys are an error (they would make
    /// "which value wins" an accident of the parser). Nesting is bounded by libjansson
    /// (2048 levels), so hostile input cannot exhaust the stack.
    public static func parse(_ bytes: [UInt8]) throws -> JSON {
        var error = json_error_t()
        let root: UnsafeMutablePointer<json_t>? = bytes.withUnsafeBufferPointer { buf in
            buf.baseAddress!.withMemoryRebound(to: CChar.self, capacity: max(buf.count, 1)) {
                json_loadb($0, buf.count, rejectDuplicates | decodeAny, &error)
            }
        }
        guard let root else {
            let message = withUnsafeBytes(of: &error.text) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            throw JSONParseError(message: message, line: Int(error.line), column: Int(error.column),
                                 position: Int(error.position))
        }
        defer { json_decref(root) }
        return JSON(jansson: root)
    }

    public static func parse(_ text: String) throws -> JSON {
        try parse(Array(text.utf8))
    }

    /// Copies a libjansson tree into Swift values. Does not take ownership of `value`.
    init(jansson value: UnsafeMutablePointer<json_t>) {
        switch value.pointee.type {
        case JSON_OBJECT:
            var entries: [(key: String, value: JSON)] = []
            entries.reserveCapacity(json_object_size(value))
            var iter = json_object_iter(value)
            while let it = iter {
                let key = String(cString: json_object_iter_key(it))
                entries.append((key, JSON(jansson: json_object_iter_value(it))))
                iter = json_object_iter_next(value, it)
            }
            self = .object(JSONObject(entries))
        case JSON_ARRAY:
            let n = json_array_size(value)
            var items: [JSON] = []
            items.reserveCapacity(n)
            for i in 0..<n { items.append(JSON(jansson: json_array_get(value, i))) }
            self = .array(items)
        case JSON_STRING:
            let length = json_string_length(value)
            let bytes = UnsafeRawBufferPointer(start: json_string_value(value), count: length)
            self = .string(String(decoding: bytes, as: UTF8.self))
        case JSON_INTEGER:
            self = .int(Int64(json_integer_value(value)))
        case JSON_REAL:
            self = .double(json_real_value(value))
        case JSON_TRUE:
            self = .bool(true)
        case JSON_FALSE:
            self = .bool(false)
        default:
            self = .null
        }
    }

    /// Builds a new libjansson tree; the caller owns the returned reference.
    /// Non-finite doubles have no JSON form and become null.
    func makeJansson() -> UnsafeMutablePointer<json_t> {
        switch self {
        case .null: return json_null()
        case .bool(let b): return b ? json_true() : json_false()
        case .int(let i): return json_integer(json_int_t(i))
        case .double(let d): return d.isFinite ? json_real(d) : json_null()
        case .string(let s):
            var s = s
            return s.withUTF8 { buf in
                buf.withMemoryRebound(to: CChar.self) { json_stringn_nocheck($0.baseAddress, $0.count) }
            }
        case .array(let items):
            let array = json_array()!
            for item in items { json_array_append_new(array, item.makeJansson()) }
            return array
        case .object(let object):
            let obj = json_object()!
            for (key, value) in object.entries {
                var key = key
                key.withUTF8 { buf in
                    buf.withMemoryRebound(to: CChar.self) {
                        _ = json_object_setn_new_nocheck(obj, $0.baseAddress, $0.count, value.makeJansson())
                    }
                }
            }
            return obj
        }
    }

    /// Compact UTF-8 serialisation (no spaces), reals with 15 significant digits.
    public func serializedBytes() -> [UInt8] {
        let tree = makeJansson()
        defer { json_decref(tree) }
        let flags = encodeCompact | encodeAny | realPrecision15
        guard let text = json_dumps(tree, flags) else { return Array("null".utf8) }
        defer { free(text) }
        return Array(UnsafeRawBufferPointer(start: text, count: strlen(text)))
    }

    public func serialized() -> String {
        String(decoding: serializedBytes(), as: UTF8.self)
    }
}

import OpsJSON

/// Splits an ingest body into records: a JSON array, or NDJSON (one JSON value per line,
/// blank lines skipped). A body that cannot be read as a whole is a `BatchError` and stores
/// nothing; a single unreadable NDJSON line is that record's error only.
public enum BatchParser {
    public static let maxRecords = 5_000

    public struct BatchError: Error, Equatable {
        public let status: Int
        public let code: String
        public let message: String
    }

    /// Each element is the record's JSON or its own error, in body order.
    public static func parse(_ body: [UInt8], contentType: String?) throws(BatchError) -> [Result<JSON, RecordError>] {
        guard String(validating: body, as: UTF8.self) != nil else {
            throw BatchError(status: 400, code: "invalid_body", message: "The body is not valid UTF-8.")
        }
        guard let first = body.first(where: { !isSpace($0) }) else {
            throw BatchError(status: 400, code: "invalid_body", message: "The body is empty; send NDJSON or a JSON array of records.")
        }
        // NDJSON lines are objects and a batch is an array: anything else (a bare number,
        // string or word) cannot be read as a whole.
        guard first == UInt8(ascii: "[") || first == UInt8(ascii: "{") else {
            throw BatchError(status: 400, code: "invalid_body", message: "The body is neither a JSON array nor NDJSON of objects.")
        }
        let type = contentType?.lowercased() ?? ""
        let items: [Result<JSON, RecordError>]
        if first == UInt8(ascii: "[") && !type.contains("ndjson") {
            let value: JSON
            do { value = try JSON.parse(body) } catch {
                throw BatchError(status: 400, code: "invalid_body", message: "The body is not a valid JSON array: \(error).")
            }
            guard let array = value.arrayValue else {
                throw BatchError(status: 400, code: "invalid_body", message: "The body must be a JSON array of records or NDJSON.")
            }
            guard array.count <= maxRecords else { throw tooMany(array.count) }
            items = array.map { .success($0) }
        } else {
            var out: [Result<JSON, RecordError>] = []
            var start = 0
            for i in 0...body.count where i == body.count || body[i] == UInt8(ascii: "\n") {
                let line = body[start..<i]
                start = i + 1
                guard line.contains(where: { !isSpace($0) }) else { continue }
                if out.count == maxRecords { throw tooMany(maxRecords + 1) }
                do {
                    out.append(.success(try JSON.parse(Array(line))))
                } catch {
                    out.append(.failure(RecordError("invalid_json", "This line is not valid JSON: \(error).")))
                }
            }
            items = out
        }
        return items
    }

    static func tooMany(_ n: Int) -> BatchError {
        BatchError(status: 413, code: "too_many_records",
                   message: "A batch holds at most \(maxRecords) records; this one has \(n > maxRecords ? "more" : String(n)). Split it.")
    }

    static func isSpace(_ c: UInt8) -> Bool { c == 32 || c == 9 || c == 10 || c == 13 }
}

import OpsHTTP
import OpsJSON

/// Small JSON request bodies (sign-in, budget check): one object, known fields only, each
/// problem a 400 whose message shows what is expected.
enum JSONBody {
    static func object(_ request: Request, accepted: [String], example: String) throws -> JSONObject {
        let body: JSON
        do { body = try JSON.parse(request.body) } catch {
            throw APIError.badRequest("invalid_json", "The body must be JSON like \(example): \(error).")
        }
        guard let object = body.objectValue else {
            throw APIError.badRequest("invalid_json", "The body must be a JSON object like \(example).")
        }
        if let unknown = object.keys.first(where: { !accepted.contains($0) }) {
            throw APIError.badRequest("unknown_field",
                                      "Unknown field '\(unknown.prefix(64))'; accepted: \(accepted.joined(separator: ", ")).")
        }
        return object
    }
}

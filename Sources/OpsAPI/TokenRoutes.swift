import OpsAuth
import OpsHTTP
import OpsJSON

/// Token administration over the API (admins): list without secrets, revoke by id.
/// Creating tokens stays on the command line (`opsplane token create`), where the new
/// secret is printed once to the operator rather than travelling through a browser.
enum TokenRoutes {
    static func list(_ request: Request, _ context: AppContext) throws -> Response {
        let includeRevoked = request.query["revoked"] == "1" || request.query["revoked"] == "true"
        let rows = try context.database.run { try TokenStore(connection: $0).list(includeRevoked: includeRevoked) }
        return .json(["tokens": .array(rows.map { r in
            ["id": .int(r.id), "name": .string(r.name), "role": .string(r.role),
             "created_at": .string(r.createdAt), "last_used_at": .from(r.lastUsedAt),
             "expires_at": .from(r.expiresAt), "revoked_at": .from(r.revokedAt)]
        })])
    }

    static func revoke(_ request: Request, _ context: AppContext) throws -> Response {
        let id = request.pathParameters["id"] ?? ""
        guard let number = Int64(id), number > 0 else {
            throw APIError.badRequest("invalid_id", "Token id must be a positive integer.")
        }
        do {
            try context.database.run { try TokenStore(connection: $0).revoke(id: number) }
        } catch TokenStoreError.notFound {
            throw APIError.notFound("No live token with id \(number).")
        }
        context.logger.info("token revoked", [("request_id", .string(request.requestID)), ("token_id", .int(number)),
                                             ("by", .from(request.subject))])
        return .json(["revoked": .int(number)])
    }
}

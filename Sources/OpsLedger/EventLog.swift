import OpsJSON
import OpsPostgres

/// The ticker's event log. Rows and the NOTIFY are part of the caller's transaction: the
/// ticker sees an event exactly when its data is committed. The payload is only the newest
/// id (NOTIFY payloads are small and take a global lock at commit); listeners read rows
/// `WHERE id > last_seen`, which also fills any gap after they reconnect.
public struct EventLog {
    public static let channel = "ops_events"
    let db: PGConnection

    public init(connection: PGConnection) { self.db = connection }

    /// Inserts the events in order and notifies; returns the newest id.
    @discardableResult
    public func append(_ events: [(type: String, data: JSON)]) throws -> Int64? {
        guard !events.isEmpty else { return nil }
        // One round trip: the rows, then the NOTIFY of their newest id (sent at commit).
        let r = try db.query("""
            WITH ins AS (
                INSERT INTO ops.events (type, data)
                SELECT t, d FROM unnest($1::text[], $2::json[]) WITH ORDINALITY AS e(t, d, n) ORDER BY n
                RETURNING id
            ), newest AS (SELECT max(id) AS id FROM ins)
            SELECT id, pg_notify($3, id::text) FROM newest WHERE id IS NOT NULL
            """, [PGArray.literal(events.map { Optional($0.type) }), PGArray.literal(events.map { Optional($0.data.serialized()) }),
                  Self.channel])
        return r.rowCount > 0 ? r.int(0, 0) : nil
    }
}

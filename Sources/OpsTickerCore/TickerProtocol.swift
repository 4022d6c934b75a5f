import OpsJSON

/// The ticker's wire protocol, without I/O. Frames are JSON text:
/// - server → client events: `{"v":1,"type":"ops_event","topic":"ops:events","id":N,"ts":<ms>,"data":{…}}`
/// - server → client control: `subscribed`, `error`, `catchup_truncated`
/// - client → server: `{"type":"subscribe","topics":["ops:events"],"since":N?}`
public enum TickerProtocol {
    public static let topic = "ops:events"
    public static let topics: Set<String> = [topic]

    /// WebSocket close codes: 1001 going away (server stops), 4403 not an admin (4000–4999 is
    /// RFC 6455's private range; a client should not reconnect), 4408 too slow to keep up.
    public static let closeGoingAway: UInt16 = 1001
    public static let closeForbidden: UInt16 = 4403
    public static let closeTooSlow: UInt16 = 4408

    public static func eventFrame(id: Int64, tsMillis: Int64, data: JSON) -> String {
        JSON.object(JSONObject([("v", 1), ("type", "ops_event"), ("topic", .string(topic)), ("id", .int(id)),
                                ("ts", .int(tsMillis)), ("data", data)])).serialized()
    }

    public static func errorFrame(code: String, message: String) -> String {
        JSON.object(JSONObject([("v", 1), ("type", "error"),
                                ("error", ["code": .string(code), "message": .string(message)])])).serialized()
    }

    public static func subscribedFrame(topics: [String], lastEventID: Int64) -> String {
        JSON.object(JSONObject([("v", 1), ("type", "subscribed"), ("topics", .array(topics.map(JSON.string))),
                                ("last_event_id", .int(lastEventID))])).serialized()
    }

    public static func catchupTruncatedFrame(skipped: Int64) -> String {
        JSON.object(JSONObject([("v", 1), ("type", "catchup_truncated"), ("skipped", .int(skipped))])).serialized()
    }

    /// What a client message asks for.
    public enum ClientMessage: Equatable {
        case subscribe(topics: [String], since: Int64?)
        case unsubscribe
        case ping
    }

    public struct MessageError: Error, Equatable {
        public let code: String
        public let message: String
    }

    /// Parses one client text frame. Unknown topics and malformed messages are errors the
    /// server answers with an error frame; the connection stays open.
    public static func parse(_ text: String) -> Result<ClientMessage, MessageError> {
        guard text.utf8.count <= 4096 else {
            return .failure(MessageError(code: "bad_message", message: "Messages are at most 4096 bytes."))
        }
        guard let json = try? JSON.parse(text), let object = json.objectValue else {
            return .failure(MessageError(code: "bad_message", message: "Send a JSON object like {\"type\":\"subscribe\",\"topics\":[\"ops:events\"]}."))
        }
        switch object["type"]?.stringValue {
        case "subscribe":
            guard let list = object["topics"]?.arrayValue, !list.isEmpty,
                  let names = Optional(list.compactMap(\.stringValue)), names.count == list.count else {
                return .failure(MessageError(code: "bad_message", message: "'topics' must be a non-empty array of strings."))
            }
            if let unknown = names.first(where: { !topics.contains($0) }) {
                return .failure(MessageError(code: "unknown_topic",
                                             message: "Unknown topic '\(unknown.prefix(64))'; available: \(topics.sorted().joined(separator: ", "))."))
            }
            var since: Int64?
            if let s = object["since"], s != .null {
                guard let v = s.intValue, v >= 0 else {
                    return .failure(MessageError(code: "bad_message", message: "'since' must be a non-negative event id."))
                }
                since = v
            }
            return .success(.subscribe(topics: names, since: since))
        case "unsubscribe":
            return .success(.unsubscribe)
        case "ping":
            return .success(.ping)
        default:
            return .failure(MessageError(code: "bad_message", message: "'type' must be subscribe, unsubscribe or ping."))
        }
    }
}

import NIOConcurrencyHelpers
import NIOCore
import OpsLog
import OpsPostgres
import OpsTickerCore
#if canImport(Glibc)
import Glibc
#endif

/// Reads the event log and feeds the hub, on a thread of its own with its own Postgres
/// connection. It LISTENs on `ops_events`, and on a notification (or once a second as a
/// safety net) reads `ops.events WHERE id > last` in id order. Notifications carry only an
/// id, so nothing depends on their payload. When Postgres goes away it reconnects with
/// back-off, LISTENs again and reads what it missed: clients stay connected and see no gap.
/// Subscriptions are also handled here, so a client's catch-up and its live frames come from
/// one ordered source.
public final class EventFeed: @unchecked Sendable {
    public struct Settings {
        public var databaseURL: String
        /// Most events a reconnecting client gets from the log (the newest ones).
        public var catchupLimit: Int64 = 1000
        public var statsInterval: Double = 5
        public var instance: String

        public init(databaseURL: String, instance: String) {
            self.databaseURL = databaseURL
            self.instance = instance
        }
    }

    let settings: Settings
    let hub: TickerHub
    let logger: Logger
    private let lock = NIOLock()
    private var pending: [(WebSocketSession, [String], Int64?)] = []
    private var stopping = false
    private var wakeRead: Int32 = -1
    private var wakeWrite: Int32 = -1
    private var connection: PGConnection?
    private var lastID: Int64 = -1
    private var lastStats: Double = 0
    public private(set) var reconnects = 0

    public init(settings: Settings, hub: TickerHub, logger: Logger) {
        self.settings = settings
        self.hub = hub
        self.logger = logger
        var fds: [Int32] = [0, 0]
        pipe(&fds)
        wakeRead = fds[0]
        wakeWrite = fds[1]
        _ = fcntl(wakeRead, F_SETFL, O_NONBLOCK)
        _ = fcntl(wakeWrite, F_SETFL, O_NONBLOCK)
    }

    func requestSubscription(_ session: WebSocketSession, topics: [String], since: Int64?) {
        lock.withLock { pending.append((session, topics, since)) }
        wake()
    }

    public func stop() {
        lock.withLock { stopping = true }
        wake()
    }

    private func wake() {
        var b: UInt8 = 1
        _ = write(wakeWrite, &b, 1)
    }

    /// The thread body: returns after `stop()`.
    public func run() {
        var backoff = 0.25
        while !lock.withLock({ stopping }) {
            do {
                try ensureConnected()
                backoff = 0.25
                try waitAndDeliver()
            } catch {
                connection = nil
                logger.warn("ticker lost the database; reconnecting", [("error", .string("\(error)")),
                                                                       ("retry_in_s", .double(backoff))])
                sleepInterruptibly(backoff)
                backoff = min(backoff * 2, 5)
            }
        }
        connection = nil
    }

    private func ensureConnected() throws {
        guard connection == nil || connection?.isHealthy == false else { return }
        let c = try PGConnection(url: settings.databaseURL, applicationName: "opsplane-ticker", connectTimeoutSeconds: 3)
        try c.query("LISTEN ops_events")
        connection = c
        if lastID < 0 {
            lastID = try c.query("SELECT coalesce(max(id), 0) FROM ops.events").int(0, 0) ?? 0
            hub.lastEventID.store(Int(lastID), ordering: .relaxed)
            logger.info("ticker listening", [("last_event_id", .int(lastID))])
        } else {
            reconnects += 1
            logger.info("ticker reconnected; reading what it missed", [("after_id", .int(lastID))])
            try deliverNew(c)
        }
    }

    private func waitAndDeliver() throws {
        guard let c = connection else { return }
        var fds = [pollfd(fd: c.socket, events: Int16(POLLIN), revents: 0),
                   pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0)]
        let n = poll(&fds, 2, 1000)
        if n < 0 && errno != EINTR { throw PGError(kind: .connection, sqlState: nil, message: "poll failed") }
        if fds[1].revents != 0 {
            var scratch = [UInt8](repeating: 0, count: 64)
            while read(wakeRead, &scratch, 64) > 0 {}
        }
        _ = c.drainNotifications()
        guard c.isHealthy else { throw PGError(kind: .connection, sqlState: nil, message: "connection lost") }
        try handleSubscriptions(c)
        // On a notification, a wake-up or the 1 s timeout: whatever is new.
        try deliverNew(c)
        try writeStatsIfDue(c)
    }

    /// Reads events after `lastID` in pages and broadcasts them.
    private func deliverNew(_ c: PGConnection) throws {
        while true {
            let r = try c.query("""
                SELECT id, (extract(epoch FROM ts) * 1000)::bigint, data::text FROM ops.events
                WHERE id > $1 ORDER BY id LIMIT 2000
                """, [String(lastID)])
            guard r.rowCount > 0 else { return }
            var frames: [String] = []
            frames.reserveCapacity(r.rowCount)
            for i in 0..<r.rowCount {
                frames.append(Self.frame(id: r.int(i, 0)!, ts: r.int(i, 1)!, dataText: r.string(i, 2)!))
            }
            lastID = r.int(r.rowCount - 1, 0)!
            let newestTs = r.int(r.rowCount - 1, 1)!
            hub.broadcast(frames)
            hub.lastEventID.store(Int(lastID), ordering: .relaxed)
            hub.lastEventLagMillis.store(Int(Self.nowMillis() - newestTs), ordering: .relaxed)
            if r.rowCount < 2000 { return }
        }
    }

    /// The event envelope around the stored JSON (the column is json, checked on insert: no re-parse).
    static func frame(id: Int64, ts: Int64, dataText: String) -> String {
        #"{"v":1,"type":"ops_event","topic":"ops:events","id":\#(id),"ts":\#(ts),"data":\#(dataText)}"#
    }

    private func handleSubscriptions(_ c: PGConnection) throws {
        let requests = lock.withLock { () -> [(WebSocketSession, [String], Int64?)] in
            defer { pending.removeAll() }
            return pending
        }
        for (session, topics, since) in requests {
            var frames = [TickerProtocol.subscribedFrame(topics: topics, lastEventID: lastID)]
            if let since, since < lastID {
                let missed = lastID - since
                let from = max(since, lastID - settings.catchupLimit)
                if from > since { frames.append(TickerProtocol.catchupTruncatedFrame(skipped: from - since)) }
                let r = try c.query("""
                    SELECT id, (extract(epoch FROM ts) * 1000)::bigint, data::text FROM ops.events
                    WHERE id > $1 AND id <= $2 ORDER BY id
                    """, [String(from), String(lastID)])
                for i in 0..<r.rowCount { frames.append(Self.frame(id: r.int(i, 0)!, ts: r.int(i, 1)!, dataText: r.string(i, 2)!)) }
                logger.debug("catch-up", [("since", .int(since)), ("missed", .int(missed)), ("sent", .int(Int64(r.rowCount)))])
            }
            // Ack and catch-up go out before any live frame: same loop, submitted first.
            session.eventLoop.execute {
                session.sendText(frames[0])
                session.enqueue(Array(frames.dropFirst()))
            }
            hub.subscribe(session)
        }
    }

    private func writeStatsIfDue(_ c: PGConnection) throws {
        let now = Double(Self.nowMillis()) / 1000
        guard now - lastStats >= settings.statsInterval else { return }
        lastStats = now
        try c.query("""
            INSERT INTO ops.ticker_stats (instance, pid, clients, subscribers, frames_sent, frames_dropped, slow_disconnects,
                                          last_event_id, last_event_lag_ms, db_reconnects, updated_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, now())
            ON CONFLICT (instance) DO UPDATE SET pid = EXCLUDED.pid, clients = EXCLUDED.clients,
                subscribers = EXCLUDED.subscribers, frames_sent = EXCLUDED.frames_sent,
                frames_dropped = EXCLUDED.frames_dropped, slow_disconnects = EXCLUDED.slow_disconnects,
                last_event_id = EXCLUDED.last_event_id, last_event_lag_ms = EXCLUDED.last_event_lag_ms,
                db_reconnects = EXCLUDED.db_reconnects, updated_at = now()
            """, [settings.instance, String(getpid()), String(hub.clientCount), String(hub.subscriberCount),
                  String(hub.framesSent.load(ordering: .relaxed)), String(hub.framesDropped.load(ordering: .relaxed)),
                  String(hub.slowDisconnects.load(ordering: .relaxed)), String(lastID),
                  String(hub.lastEventLagMillis.load(ordering: .relaxed)), String(reconnects)])
    }

    private func sleepInterruptibly(_ seconds: Double) {
        var p = pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0)
        _ = poll(&p, 1, Int32(seconds * 1000))
    }

    static func nowMillis() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec / 1_000_000)
    }
}

import Atomics
import NIOConcurrencyHelpers
import NIOCore

/// The set of connected clients and the ticker's counters. Broadcasting hands each event
/// loop one task with the new frames for all of its clients, so the cost per event batch is
/// one hop per loop, not one per client, and a slow client only ever delays itself.
public final class TickerHub: @unchecked Sendable {
    private let lock = NIOLock()
    private var sessions: [ObjectIdentifier: WebSocketSession] = [:]
    private var subscribers: [ObjectIdentifier: WebSocketSession] = [:]

    public let framesSent = ManagedAtomic<Int>(0)
    public let framesDropped = ManagedAtomic<Int>(0)
    public let slowDisconnects = ManagedAtomic<Int>(0)
    public let lastEventID = ManagedAtomic<Int>(0)
    public let lastEventLagMillis = ManagedAtomic<Int>(0)

    public init() {}

    var clientCount: Int { lock.withLock { sessions.count } }
    var subscriberCount: Int { lock.withLock { subscribers.count } }

    func add(_ s: WebSocketSession) { lock.withLock { sessions[ObjectIdentifier(s)] = s } }

    func remove(_ s: WebSocketSession) {
        lock.withLock {
            sessions[ObjectIdentifier(s)] = nil
            subscribers[ObjectIdentifier(s)] = nil
        }
    }

    func subscribe(_ s: WebSocketSession) { lock.withLock { subscribers[ObjectIdentifier(s)] = s } }
    func unsubscribe(_ s: WebSocketSession) { lock.withLock { subscribers[ObjectIdentifier(s)] = nil } }

    /// Sends `frames` (already serialized) to every subscriber.
    func broadcast(_ frames: [String]) {
        guard !frames.isEmpty else { return }
        let byLoop = lock.withLock { () -> [ObjectIdentifier: (EventLoop, [WebSocketSession])] in
            var out: [ObjectIdentifier: (EventLoop, [WebSocketSession])] = [:]
            for s in subscribers.values {
                let key = ObjectIdentifier(s.eventLoop)
                out[key, default: (s.eventLoop, [])].1.append(s)
            }
            return out
        }
        let buffers = frames
        for (_, (loop, group)) in byLoop {
            loop.execute { for s in group { s.enqueue(buffers) } }
        }
    }

    /// Closes every client with `code` (1001 on shutdown); the future completes when all
    /// close frames are written.
    func closeAll(code: UInt16, on loop: EventLoop) -> EventLoopFuture<Void> {
        let all = lock.withLock { Array(sessions.values) }
        let futures = all.map { s in s.eventLoop.flatSubmit { s.close(code: code, reason: "server shutting down") } }
        return EventLoopFuture.andAllComplete(futures, on: loop)
    }
}

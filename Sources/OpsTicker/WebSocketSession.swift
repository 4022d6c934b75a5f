import NIOCore
import NIOWebSocket
import OpsTickerCore
#if canImport(Glibc)
import Glibc
#endif

/// One WebSocket client. Everything here runs on the client's event loop.
///
/// Back-pressure: frames wait in a bounded queue (200, oldest dropped first) and are written
/// only while the channel is writable, so a slow client fills its own queue and never blocks
/// the loop or the other clients. A client whose queue stays full and whose socket stays
/// unwritable for `stallTimeout` is disconnected with 4408.
final class WebSocketSession: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    struct Settings {
        var queueCapacity = 200
        var pingInterval: TimeAmount = .seconds(20)
        var stallTimeout: TimeAmount = .seconds(15)
    }

    let role: String
    let hub: TickerHub
    let feed: EventFeed
    let settings: Settings
    let eventLoop: EventLoop
    private var context: ChannelHandlerContext?
    private var queue: BoundedQueue<String>
    private var subscribed = false
    private var stalledSince: NIODeadline?
    private var pingTask: RepeatedTask?
    private var closing = false
    private var fragments: ByteBuffer?

    init(role: String, hub: TickerHub, feed: EventFeed, settings: Settings, eventLoop: EventLoop) {
        self.role = role
        self.hub = hub
        self.feed = feed
        self.settings = settings
        self.eventLoop = eventLoop
        self.queue = BoundedQueue(capacity: settings.queueCapacity)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        hub.add(self)
        guard role == "admin" else {
            // Authenticated but not an admin: say why, then 4403 so the client stops retrying.
            sendText(TickerProtocol.errorFrame(code: "forbidden", message: "The live ticker is for admins only."))
            _ = close(code: TickerProtocol.closeForbidden, reason: "admins only")
            return
        }
        pingTask = context.eventLoop.scheduleRepeatedTask(initialDelay: settings.pingInterval, delay: settings.pingInterval) { [weak self] _ in
            self?.sendPing()
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        pingTask?.cancel()
        hub.remove(self)
        self.context = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        pingTask?.cancel()
        hub.remove(self)
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        switch frame.opcode {
        case .text, .continuation:
            var data = frame.unmaskedData
            if fragments != nil || !frame.fin {
                fragments = fragments ?? context.channel.allocator.buffer(capacity: data.readableBytes)
                fragments!.writeBuffer(&data)
                guard fragments!.readableBytes <= 4096 else {
                    fragments = nil
                    sendText(TickerProtocol.errorFrame(code: "bad_message", message: "Messages are at most 4096 bytes."))
                    return
                }
                guard frame.fin else { return }
                data = fragments!
                fragments = nil
            }
            handleMessage(data.readString(length: data.readableBytes) ?? "")
        case .ping:
            let pong = WebSocketFrame(fin: true, opcode: .pong, data: frame.unmaskedData)
            context.writeAndFlush(wrapOutboundOut(pong), promise: nil)
        case .connectionClose:
            // Echo the close and hang up (RFC 6455 §5.5.1).
            _ = close(code: 1000, reason: "")
        case .binary:
            sendText(TickerProtocol.errorFrame(code: "bad_message", message: "Send JSON text frames."))
        default:
            break
        }
    }

    func handleMessage(_ text: String) {
        guard role == "admin", !closing else { return }
        switch TickerProtocol.parse(text) {
        case .failure(let e):
            sendText(TickerProtocol.errorFrame(code: e.code, message: e.message))
        case .success(.subscribe(let topics, let since)):
            if subscribed { hub.unsubscribe(self) }
            subscribed = true
            // The feed thread sends the acknowledgement and any catch-up, then adds this
            // client to the live fan-out: catch-up and live frames can neither overlap nor gap.
            feed.requestSubscription(self, topics: topics, since: since.map { Int64($0) })
        case .success(.unsubscribe):
            subscribed = false
            hub.unsubscribe(self)
        case .success(.ping):
            sendText(#"{"v":1,"type":"pong"}"#)
        }
    }

    /// Called on this loop by the hub and the feed. Frames go straight to the socket while it
    /// is writable and nothing is waiting; only what a slow client cannot take yet waits in
    /// the bounded queue. (Queueing a whole burst first would drop frames even for a client
    /// that keeps up.)
    func enqueue(_ frames: [String]) {
        guard subscribed, !closing, let context else { return }
        var dropped = 0, written = 0
        for f in frames {
            if queue.isEmpty && context.channel.isWritable {
                writeFrame(f, context)
                written += 1
            } else if queue.push(f) {
                dropped += 1
            }
        }
        if written > 0 {
            context.flush()
            hub.framesSent.wrappingIncrement(by: written, ordering: .relaxed)
        }
        if dropped > 0 { hub.framesDropped.wrappingIncrement(by: dropped, ordering: .relaxed) }
        flush()
    }

    private func writeFrame(_ text: String, _ context: ChannelHandlerContext) {
        var buffer = context.channel.allocator.buffer(capacity: text.utf8.count)
        buffer.writeString(text)
        context.write(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .text, data: buffer)), promise: nil)
    }

    /// Control frames bypass the event queue (they are rare and must not be dropped).
    func sendText(_ text: String) {
        guard let context else { return }
        var buffer = context.channel.allocator.buffer(capacity: text.utf8.count)
        buffer.writeString(text)
        context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .text, data: buffer)), promise: nil)
    }

    func flush() {
        guard let context, !closing else { return }
        var written = 0
        while context.channel.isWritable, let text = queue.pop() {
            writeFrame(text, context)
            written += 1
        }
        if written > 0 {
            context.flush()
            hub.framesSent.wrappingIncrement(by: written, ordering: .relaxed)
        }
        if queue.isFull && !context.channel.isWritable {
            let now = NIODeadline.now()
            if let since = stalledSince {
                if now - since > settings.stallTimeout {
                    hub.slowDisconnects.wrappingIncrement(ordering: .relaxed)
                    _ = close(code: TickerProtocol.closeTooSlow, reason: "too slow to keep up")
                }
            } else {
                stalledSince = now
            }
        } else {
            stalledSince = nil
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        flush()
        context.fireChannelWritabilityChanged()
    }

    func sendPing() {
        guard let context, !closing else { return }
        // Keeps idle connections alive through proxies; also re-checks a stalled client.
        context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .ping, data: context.channel.allocator.buffer(capacity: 0))),
                              promise: nil)
        flush()
    }

    /// Sends a close frame with `code` and closes the channel once it is written.
    func close(code: UInt16, reason: String) -> EventLoopFuture<Void> {
        guard let context, !closing else { return eventLoop.makeSucceededVoidFuture() }
        closing = true
        hub.remove(self)
        var buffer = context.channel.allocator.buffer(capacity: 2 + reason.utf8.count)
        buffer.writeInteger(code)
        buffer.writeString(reason)
        let channel = context.channel
        return context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .connectionClose, data: buffer)))
            .flatMap { channel.close() }
            .recover { _ in }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }
}

import NIOCore
import NIOHTTP1
import NIOPosix
import NIOWebSocket
import OpsLog

/// The ticker's listener: HTTP/1.1 on 127.0.0.1 behind nginx, upgraded to WebSocket on
/// `GET /api/ws`. nginx has already run auth_request and passes the caller's role in
/// `X-Ops-Role` (proxy_set_header overwrites anything a client sent). A request without a
/// role is answered 401 before any upgrade.
public final class TickerServer {
    public struct Options {
        public var host: String
        public var port: Int
        public var threads: Int
        public init(host: String, port: Int, threads: Int) {
            self.host = host
            self.port = port
            self.threads = threads
        }
    }

    let options: Options
    let hub: TickerHub
    let feed: EventFeed
    let logger: Logger
    let group: MultiThreadedEventLoopGroup
    var channel: Channel?

    public init(options: Options, hub: TickerHub, feed: EventFeed, logger: Logger) {
        self.options = options
        self.hub = hub
        self.feed = feed
        self.logger = logger
        self.group = MultiThreadedEventLoopGroup(numberOfThreads: options.threads)
    }

    public func start() throws {
        let hub = self.hub, feed = self.feed
        let upgrader = NIOWebSocketServerUpgrader(
            maxFrameSize: 1 << 16,
            shouldUpgrade: { channel, head in
                let role = head.headers.first(name: "X-Ops-Role") ?? ""
                guard head.uri.hasPrefix("/api/ws"), !role.isEmpty else { return channel.eventLoop.makeSucceededFuture(nil) }
                return channel.eventLoop.makeSucceededFuture(HTTPHeaders())
            },
            upgradePipelineHandler: { channel, head in
                let role = head.headers.first(name: "X-Ops-Role") ?? ""
                let session = WebSocketSession(role: role, hub: hub, feed: feed, settings: .init(), eventLoop: channel.eventLoop)
                return channel.pipeline.addHandler(session)
            })
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.backlog, value: 512)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            // Writability flips at 256 KiB of unsent data: that is where a client counts as slow.
            .childChannelOption(ChannelOptions.writeBufferWaterMark, value: .init(low: 64 * 1024, high: 256 * 1024))
            // A fixed kernel send buffer (no autotuning to megabytes): a stalled client is
            // noticed after ~400 KiB of backlog, not ~4 MiB, and costs bounded memory.
            .childChannelOption(ChannelOptions.socketOption(.so_sndbuf), value: 128 * 1024)
            .childChannelInitializer { channel in
                let refusal = NotUpgradedHandler()
                return channel.pipeline.configureHTTPServerPipeline(
                    withServerUpgrade: (upgraders: [upgrader], completionHandler: { context in
                        context.pipeline.removeHandler(refusal, promise: nil)
                    })
                ).flatMap { channel.pipeline.addHandler(refusal) }
            }
        channel = try bootstrap.bind(host: options.host, port: options.port).wait()
        logger.info("ticker serving", [("address", .string("\(options.host):\(options.port)"))])
    }

    /// Closes every client with 1001, stops listening and the event loops.
    public func stop() {
        let loop = group.next()
        _ = try? hub.closeAll(code: 1001, on: loop).wait()
        _ = try? channel?.close().wait()
        try? group.syncShutdownGracefully()
    }
}

/// Answers plain HTTP requests that were not upgraded: 401 without a role, 426 otherwise.
final class NotUpgradedHandler: ChannelInboundHandler, RemovableChannelHandler, @unchecked Sendable {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart
    private var head: HTTPRequestHead?

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let h): head = h
        case .body: break
        case .end:
            let hasRole = !(head?.headers.first(name: "X-Ops-Role") ?? "").isEmpty
            let isGet = head?.method == .GET
            let (status, code, message): (HTTPResponseStatus, String, String) =
                !isGet ? (.methodNotAllowed, "method_not_allowed", "The ticker takes GET with a WebSocket upgrade; allowed: GET.")
                : hasRole ? (.upgradeRequired, "upgrade_required", "Connect with a WebSocket upgrade to /api/ws.")
                : (.unauthorized, "unauthenticated", "Authentication required: sign in or send a token.")
            let body = #"{"error":{"code":"\#(code)","message":"\#(message)"}}"#
            var headers = HTTPHeaders()
            headers.add(name: "Content-Type", value: "application/json")
            headers.add(name: "Content-Length", value: String(body.utf8.count))
            headers.add(name: "Connection", value: "close")
            if !isGet { headers.add(name: "Allow", value: "GET") }
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))), promise: nil)
            var buffer = context.channel.allocator.buffer(capacity: body.utf8.count)
            buffer.writeString(body)
            context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
            let channel = context.channel
            context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in channel.close(promise: nil) }
        }
    }
}

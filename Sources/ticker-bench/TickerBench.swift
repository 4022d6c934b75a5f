// ticker-bench: N WebSocket clients subscribe to the ticker through nginx while a generator
// inserts events (with NOTIFY) at a fixed rate; prints the NOTIFY-to-receipt delay
// percentiles, frames lost by clients that keep up, and the ticker's peak memory.
// Written with swift-nio so that the clients cost little next to the ticker they measure.
import Atomics
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOWebSocket
import OpsPostgres
#if canImport(Glibc)
import Glibc
#endif

struct Options {
    var host = "127.0.0.1"
    var port = 8080
    var token = ""
    var databaseURL = ""
    var clients = 200
    var rate = 1000
    var seconds = 30
    var tickerPID: Int32 = 0
    /// Talk to the ticker directly (no nginx): send the role header nginx would set.
    var directRole = ""

    static func parse() -> Options {
        var o = Options()
        var args = CommandLine.arguments.dropFirst().makeIterator()
        while let a = args.next() {
            let v = args.next() ?? ""
            switch a {
            case "--host": o.host = v
            case "--port": o.port = Int(v) ?? o.port
            case "--token": o.token = v
            case "--database-url": o.databaseURL = v
            case "--clients": o.clients = Int(v) ?? o.clients
            case "--rate": o.rate = Int(v) ?? o.rate
            case "--seconds": o.seconds = Int(v) ?? o.seconds
            case "--ticker-pid": o.tickerPID = Int32(v) ?? 0
            case "--direct-role": o.directRole = v
            default:
                fputs("usage: ticker-bench --port P --token T --database-url URL [--clients 200 --rate 1000 --seconds 30 --ticker-pid PID]\n", stderr)
                exit(2)
            }
        }
        return o
    }
}

func nowMicros() -> Int64 {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    return Int64(ts.tv_sec) * 1_000_000 + Int64(ts.tv_nsec / 1000)
}

/// Reads an integer that follows `key` in `bytes` (`"seq": 17`); the frames are ours, so a
/// byte search is enough and costs far less than a JSON parse per frame.
func integer(after key: [UInt8], in bytes: UnsafeRawBufferPointer) -> Int64? {
    guard bytes.count >= key.count else { return nil }
    var i = 0
    outer: while i <= bytes.count - key.count {
        for j in 0..<key.count where bytes[i + j] != key[j] { i += 1; continue outer }
        var k = i + key.count
        while k < bytes.count, bytes[k] == 32 || bytes[k] == 58 { k += 1 }
        var v: Int64 = 0
        var any = false
        while k < bytes.count, bytes[k] >= 48, bytes[k] <= 57 { v = v * 10 + Int64(bytes[k] - 48); k += 1; any = true }
        return any ? v : nil
    }
    return nil
}

/// Everything the clients measured; one lock, taken once per frame batch per client.
final class Results: @unchecked Sendable {
    let lock = NIOLock()
    var delaysMicros: [Int32] = []
    var received = 0
    var acked = ManagedAtomic<Int>(0)
    var closed = ManagedAtomic<Int>(0)
    var seqByClient: [Int: Set<Int64>] = [:]
}

final class BenchClient: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame
    static let seqKey = Array("\"seq\"".utf8), sentKey = Array("\"sent_us\"".utf8), benchKey = Array("\"bench\"".utf8)
    let id: Int
    let results: Results
    var local: [Int32] = []
    var seqs = Set<Int64>()

    init(id: Int, results: Results) {
        self.id = id
        self.results = results
    }

    func handlerAdded(context: ChannelHandlerContext) {
        var b = context.channel.allocator.buffer(capacity: 64)
        b.writeString(#"{"type":"subscribe","topics":["ops:events"]}"#)
        // Client frames must be masked (RFC 6455 §5.3).
        let frame = WebSocketFrame(fin: true, opcode: .text, maskKey: .random(), data: b)
        context.writeAndFlush(wrapOutboundOut(frame), promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        let now = nowMicros()
        switch frame.opcode {
        case .text:
            frame.data.withUnsafeReadableBytes { bytes in
                // `{"v":1,"type":"` is 15 bytes: then `s` (subscribed) or `o` (ops_event).
                if bytes.count > 15, bytes[15] == UInt8(ascii: "s") { results.acked.wrappingIncrement(ordering: .relaxed); return }
                guard let sent = integer(after: Self.sentKey, in: bytes), let seq = integer(after: Self.seqKey, in: bytes) else { return }
                local.append(Int32(clamping: now - sent))
                seqs.insert(seq)
            }
            if local.count >= 256 { publish() }
        case .ping:
            var data = frame.unmaskedData
            let pong = WebSocketFrame(fin: true, opcode: .pong, maskKey: .random(), data: data.readSlice(length: data.readableBytes) ?? data)
            context.writeAndFlush(wrapOutboundOut(pong), promise: nil)
        case .connectionClose:
            results.closed.wrappingIncrement(ordering: .relaxed)
            context.close(promise: nil)
        default: break
        }
    }

    func publish() {
        results.lock.withLock {
            results.delaysMicros += local
            results.received += local.count
            results.seqByClient[id, default: []].formUnion(seqs)
        }
        local.removeAll(keepingCapacity: true)
        seqs.removeAll(keepingCapacity: true)
    }

    func channelInactive(context: ChannelHandlerContext) { publish() }
}

/// Sends the upgrade request (the upgrader adds the WebSocket headers) with our token.
final class UpgradeRequest: ChannelInboundHandler, RemovableChannelHandler, @unchecked Sendable {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundOut = HTTPClientRequestPart
    let host: String, token: String, role: String

    init(host: String, token: String, role: String) {
        self.host = host
        self.token = token
        self.role = role
    }

    func channelActive(context: ChannelHandlerContext) {
        var headers = HTTPHeaders()
        headers.add(name: "Host", value: host)
        if !token.isEmpty { headers.add(name: "Authorization", value: "Bearer \(token)") }
        if !role.isEmpty { headers.add(name: "X-Ops-Role", value: role) }
        headers.add(name: "Content-Length", value: "0")
        context.write(wrapOutboundOut(.head(HTTPRequestHead(version: .http1_1, method: .GET, uri: "/api/ws", headers: headers))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .head(let h) = unwrapInboundIn(data), h.status != .switchingProtocols {
            fputs("ticker-bench: upgrade refused: \(h.status)\n", stderr)
            context.close(promise: nil)
        }
    }
}

let options = Options.parse()
let results = Results()
let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
var channels: [Channel] = []
for i in 0..<options.clients {
    let client = BenchClient(id: i, results: results)
    let request = UpgradeRequest(host: "\(options.host):\(options.port)", token: options.token, role: options.directRole)
    let upgrader = NIOWebSocketClientUpgrader(maxFrameSize: 1 << 20, upgradePipelineHandler: { channel, _ in
        channel.pipeline.addHandler(client)
    })
    let bootstrap = ClientBootstrap(group: group).channelInitializer { channel in
        channel.pipeline.addHTTPClientHandlers(withClientUpgrade: (upgraders: [upgrader], completionHandler: { _ in
            channel.pipeline.removeHandler(request, promise: nil)
        })).flatMap { channel.pipeline.addHandler(request) }
    }
    channels.append(try bootstrap.connect(host: options.host, port: options.port).wait())
}
let ackDeadline = nowMicros() + 15_000_000
while results.acked.load(ordering: .relaxed) < options.clients && nowMicros() < ackDeadline { usleep(10_000) }
let subscribed = results.acked.load(ordering: .relaxed)
guard subscribed == options.clients else {
    fputs("ticker-bench: only \(subscribed) of \(options.clients) clients subscribed\n", stderr)
    exit(1)
}

// The generator: every 10 ms one statement inserts this tick's events and notifies, in one
// transaction (NOTIFY is delivered at commit). sent_us is taken inside that statement.
let db = try PGConnection(url: options.databaseURL, applicationName: "ticker-bench")
let perTick = max(1, options.rate / 100)
var seq: Int64 = 0
let start = nowMicros()
var tick: Int64 = 0
while nowMicros() - start < Int64(options.seconds) * 1_000_000 {
    try db.query("""
        WITH ins AS (
            INSERT INTO ops.events (type, data)
            SELECT 'bench', json_build_object('type', 'bench', 'seq', s,
                                              'sent_us', (extract(epoch FROM clock_timestamp()) * 1000000)::bigint)
            FROM generate_series($1::bigint, $2::bigint) AS s
            RETURNING id
        )
        SELECT pg_notify('ops_events', max(id)::text) FROM ins
        """, [String(seq + 1), String(seq + Int64(perTick))])
    seq += Int64(perTick)
    tick += 1
    let next = start + tick * 10_000
    let wait = next - nowMicros()
    if wait > 0 { usleep(UInt32(wait)) }
}
let generated = seq
let elapsed = Double(nowMicros() - start) / 1e6
// Let the last frames arrive, then close.
let drainDeadline = nowMicros() + 5_000_000
while nowMicros() < drainDeadline {
    let got = results.lock.withLock { results.received }
    if got >= Int(generated) * options.clients { break }
    usleep(50_000)
}
for c in channels { try? c.close().wait() }
try? group.syncShutdownGracefully()
try db.query("DELETE FROM ops.events WHERE type = 'bench'")

var delays = results.delaysMicros
delays.sort()
func pct(_ p: Double) -> Double { delays.isEmpty ? .nan : Double(delays[Int(Double(delays.count - 1) * p / 100)]) / 1000 }
var lost = 0
for i in 0..<options.clients { lost += Int(generated) - (results.seqByClient[i]?.count ?? 0) }
var peakKB = -1
if options.tickerPID > 0, let f = fopen("/proc/\(options.tickerPID)/status", "r") {
    var line = [CChar](repeating: 0, count: 256)
    while fgets(&line, 256, f) != nil {
        let s = String(cString: line)
        if s.hasPrefix("VmHWM:") { peakKB = Int(s.split(separator: " ").dropFirst().first.map(String.init) ?? "") ?? -1 }
    }
    fclose(f)
}
print(#"{"clients":\#(options.clients),"events":\#(generated),"seconds":\#(elapsed),"rate":\#(Double(generated) / elapsed),"frames_expected":\#(Int(generated) * options.clients),"frames_received":\#(results.received),"frames_lost":\#(lost),"p50_ms":\#(pct(50)),"p99_ms":\#(pct(99)),"max_ms":\#(pct(100)),"ticker_peak_rss_kb":\#(peakKB),"closed_by_server":\#(results.closed.load(ordering: .relaxed))}"#)

import OpsJSON
import OpsMonitorCore

/// TCP: a connection accepted within the timeout is up; the response time is the connect time.
enum TCPProbe {
    static func run(_ service: ServiceConfig) -> ProbeResult {
        guard let address = ProbeAddress.parse(service.target) else {
            return .failed("target \"\(service.target)\" is not host:port")
        }
        let start = ProbeClock.now()
        do {
            _ = try ProbeSocket(host: address.host, port: address.port, deadline: start + Double(service.timeoutMillis) / 1000)
            return ProbeResult(outcome: .ok, responseMillis: (ProbeClock.now() - start) * 1000)
        } catch let f as ProbeSocket.Failure {
            return f.isTimeout ? .timedOut("\(f) after \(service.timeoutMillis) ms") : .failed(f.description)
        } catch {
            return .failed("\(error)")
        }
    }
}

/// Redis: connect, AUTH when the target has a password, PING (the response time is connect +
/// PING), then INFO for the cache figures (CONTRACT.md). Speaks RESP over a plain socket.
enum RedisProbe {
    static func run(_ service: ServiceConfig) -> ProbeResult {
        guard let address = ProbeAddress.parse(service.target) else {
            return .failed("target \"\(service.target)\" is not host:port or redis://[:password@]host:port")
        }
        let start = ProbeClock.now()
        do {
            let socket = try ProbeSocket(host: address.host, port: address.port, deadline: start + Double(service.timeoutMillis) / 1000)
            if let password = address.password {
                let auth = address.user.map { ["AUTH", $0, password] } ?? ["AUTH", password]
                if case .error(let e) = try call(socket, auth) { return .failed("redis AUTH: \(e)") }
            }
            let pong = try call(socket, ["PING"])
            let elapsed = (ProbeClock.now() - start) * 1000
            switch pong {
            case .simple("PONG"): break
            case .error(let e): return .failed("redis PING: \(e)", responseMillis: elapsed)
            default: return .failed("redis PING: unexpected reply \(pong)", responseMillis: elapsed)
            }
            guard case .bulk(let bytes?) = try call(socket, ["INFO"]) else {
                return .failed("redis INFO: unexpected reply", responseMillis: elapsed)
            }
            let info = RedisInfo.parse(String(decoding: bytes, as: UTF8.self))
            return ProbeResult(outcome: .ok, responseMillis: elapsed, metrics: RedisInfo.metrics(info))
        } catch let f as ProbeSocket.Failure {
            return f.isTimeout ? .timedOut("redis: \(f) after \(service.timeoutMillis) ms") : .failed("redis: \(f)")
        } catch {
            return .failed("redis: \(error)")
        }
    }

    /// Sends one command and reads its whole reply.
    static func call(_ socket: ProbeSocket, _ command: [String]) throws -> RedisProtocol.Reply {
        try socket.send(RedisProtocol.command(command))
        var buffer: [UInt8] = []
        while true {
            buffer += try socket.receive()
            if let (reply, _) = try RedisProtocol.parse(buffer) { return reply }
            if buffer.count > 16 << 20 { throw ProbeSocket.Failure.io("reply larger than 16 MiB") }
        }
    }
}

import Foundation
import OpsJSON
import OpsMonitorCore
import OpsPostgres

/// Heartbeats: reads the newest heartbeat of every component named `target` or of type
/// `target` from ops.heartbeats (pushed through POST /api/ops/ingest) and judges staleness
/// with HeartbeatEvaluator. One database session shared by all heartbeat probes (they are
/// cheap), used by one probe thread at a time.
final class HeartbeatProbe {
    private let session: DatabaseSession
    private let lock = NSLock()

    init(context: MonitorContext) {
        session = DatabaseSession(url: context.config.databaseURL, applicationName: "opsplane-monitor-heartbeats",
                                  connectTimeoutSeconds: context.config.dbConnectTimeoutSeconds, statementTimeoutMillis: 5000)
    }

    func run(_ service: ServiceConfig) -> ProbeResult {
        lock.lock(); defer { lock.unlock() }
        do {
            let (members, now) = try session.run { db -> ([HeartbeatMember], Double) in
                let r = try db.query("""
                    SELECT component, status, extract(epoch FROM ts)::float8 AS t, metrics::text AS metrics,
                           extract(epoch FROM now())::float8 AS now
                    FROM ops.heartbeats WHERE component = $1 OR component_type = $1
                    """, [service.target])
                var members: [HeartbeatMember] = []
                for i in 0..<r.rowCount {
                    let metrics = (try? JSON.parse(r.string(i, "metrics") ?? "{}")) ?? .object(JSONObject())
                    members.append(HeartbeatMember(component: r.string(i, "component") ?? "", status: r.string(i, "status") ?? "",
                                                   time: r.double(i, "t") ?? 0, metrics: metrics))
                }
                let now = r.rowCount > 0 ? (r.double(0, "now") ?? ProbeClock.wall()) : ProbeClock.wall()
                return (members, now)
            }
            return HeartbeatEvaluator.evaluate(members, now: now, staleAfterSeconds: service.staleAfterSeconds)
        } catch {
            return .failed("cannot read heartbeats: \(error)")
        }
    }
}

/// Runs the probe of a service's kind. Never throws: every failure is a ProbeResult.
final class ProbeRunner {
    let heartbeats: HeartbeatProbe

    init(context: MonitorContext) { heartbeats = HeartbeatProbe(context: context) }

    func run(_ service: ServiceConfig) -> ProbeResult {
        switch service.kind {
        case .postgres: return PostgresProbe.run(service)
        case .http: return HTTPProbe.run(service)
        case .tcp: return TCPProbe.run(service)
        case .redis: return RedisProbe.run(service)
        case .heartbeat: return heartbeats.run(service)
        }
    }
}

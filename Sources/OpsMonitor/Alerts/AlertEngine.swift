import Foundation
import OpsJSON
import OpsLedger
import OpsMonitorCore
import OpsPostgres

/// Evaluates every enabled rule each `alerts.interval_s` while this monitor is active: loads
/// the inputs, runs the pure evaluator and hysteresis (AlertDecider), then applies each
/// key's decision — fire, escalate or resolve through AlertStore, and its hysteresis row —
/// in one transaction, so an alert and its state never disagree after a crash.
final class AlertEngine: MonitorComponent {
    let name = "alerts"

    func run(_ context: MonitorContext) {
        let config = context.monitorConfig.alerts
        let db = context.makeDatabase(name)
        let loader = AlertInputsLoader(context)
        let notifier = DiscordTarget(context.config)?.notifier
        context.logger.info("alert rules", [("rules", .array(config.activeRules.map { .string($0.name) })),
                                            ("interval_s", .double(config.intervalSeconds)),
                                            ("notifications", .bool(notifier != nil))])
        // Old resolved alerts, sent notifications and ended silences are deleted by the
        // rollups-and-retention component with everything else (RetentionPlan).
        while !context.isStopping {
            if context.isActive {
                do { try evaluate(context, db, loader, notifier) } catch {
                    context.logger.warn("alert evaluation failed", [("error", .string("\(error)"))])
                }
            }
            context.sleep(config.intervalSeconds)
        }
        db.close()
    }

    func evaluate(_ context: MonitorContext, _ db: DatabaseSession, _ loader: AlertInputsLoader, _ notifier: AlertNotifier?) throws {
        let config = context.monitorConfig.alerts
        let rules = config.activeRules
        guard !rules.isEmpty else { return }
        let inputs = loader.load(db, rules: rules)
        let evaluated = rules.filter { inputs.has($0.metric.source) }
        guard !evaluated.isEmpty else { return }
        let names = evaluated.map(\.name)
        let observations = AlertRuleEvaluator.evaluate(evaluated, inputs)
        let (states, open) = try db.run { c in
            (try AlertRuleStates(db: c).load(rules: names), try AlertRuleStates(db: c).openAlerts(rules: names))
        }
        let decisions = AlertDecider.decide(config: config, evaluatedRules: evaluated, observations: observations,
                                            states: states, openAlerts: open)
        for d in decisions {
            if case .none = d.action, !d.stateChanged { continue }
            // A still-active check inside the loop: a monitor that lost the lock stops writing.
            guard context.isActive else { return }
            try db.run { c in try c.transaction { try apply(d, c, notifier, context) } }
        }
    }

    func apply(_ d: AlertDecision, _ c: PGConnection, _ notifier: AlertNotifier?, _ context: MonitorContext) throws {
        let store = AlertStore(connection: c)
        var state = d.state
        switch d.action {
        case .none:
            break
        case .fire(let o), .escalate(let o):
            let r = try store.fireInTransaction(Self.firing(o), notifier: notifier)
            state?.alertID = r.id
            if r.change != .debounced {
                context.logger.info("alert \(r.change.rawValue)", [("alert_id", .int(r.id)), ("key", .string(o.key)),
                                                                  ("severity", .string(o.severity.rawValue)), ("value", .double(o.value)),
                                                                  ("notified", .bool(r.notified))])
            }
        case .resolve(let id):
            if try store.resolveInTransaction(alertID: id, notifier: notifier) {
                context.logger.info("alert resolved", [("alert_id", .int(id)), ("key", .string(d.key))])
            }
        }
        let states = AlertRuleStates(db: c)
        if let state { try states.save(state) } else { try states.delete(key: d.key) }
    }

    static func firing(_ o: AlertObservation) -> AlertFiring {
        AlertFiring(rule: o.rule, severity: o.severity.rawValue, dedupeKey: o.key, title: o.title, detail: o.detail,
                    service: o.service, value: o.value, threshold: o.threshold)
    }
}

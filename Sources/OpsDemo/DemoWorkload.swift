import OpsActivity
#if canImport(Glibc)
import Glibc
#endif
import OpsJSON

/// A deterministic random source (SplitMix64): the same seed gives the same demo data.
public struct SeededRandom {
    var state: UInt64
    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    public mutating func unit() -> Double { Double(next() >> 11) / Double(1 << 53) }
    public mutating func int(_ range: ClosedRange<Int>) -> Int { range.lowerBound + Int(next() % UInt64(range.count)) }
    public mutating func pick<T>(_ items: [T]) -> T { items[Int(next() % UInt64(items.count))] }
    /// Log-normal around `median` (durations, token counts look like this).
    public mutating func logNormal(median: Double, sigma: Double) -> Double {
        let u1 = max(unit(), 1e-12), u2 = unit()
        let normal = (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
        return median * exp(sigma * normal)
    }
}

/// Models the demo uses: (provider, model, USD per 1M prompt, per 1M completion). The last
/// has no price on purpose, so the dashboard shows what an unknown cost looks like.
public let demoModels: [(provider: String, model: String, prompt: Double?, completion: Double?)] = [
    ("openai", "gpt-4o", 2.5, 10), ("openai", "gpt-4o-mini", 0.15, 0.6), ("anthropic", "claude-sonnet-4", 3, 15),
    ("anthropic", "claude-haiku-4", 0.8, 4), ("google", "gemini-2.5-flash", 0.3, 2.5), ("local", "llama-3.1-70b", nil, nil),
]

/// Builds the records of a realistic workload: agents (some scheduled), users, runs with
/// log-normal durations, ~6 % failures and model-dependent costs, the LLM calls behind them,
/// thread messages, and heartbeats of workers, queues and models. Pure: records are JSON
/// exactly as the host app would send them, so they go through the ingest validation.
public struct DemoWorkload {
    public var random: SeededRandom
    public let agentCount: Int
    public let userCount: Int
    static let agentWords = ["Triage", "Digest", "Research", "Billing", "Support", "Scout", "Planner", "Summarizer",
                             "Watcher", "Indexer", "Reviewer", "Translator"]
    static let errors = ["timeout after 120s", "rate limited by provider (429)", "tool call failed: http 502",
                         "context length exceeded", "invalid JSON from model", "sandbox OOM killed"]

    public init(seed: UInt64 = 42, agentCount: Int = 36, userCount: Int = 60) {
        random = SeededRandom(seed: seed)
        self.agentCount = agentCount
        self.userCount = userCount
    }

    public func agentID(_ i: Int) -> String { "agent-\(i + 1)" }
    public func userID(_ i: Int) -> String { "user-\(i + 1)" }

    public mutating func agents(createdAt: UTCTime) -> [JSON] {
        (0..<agentCount).map { i in
            let word = Self.agentWords[i % Self.agentWords.count]
            let scheduled = i % 3 == 0
            return ["kind": "agent", "agent_id": .string(agentID(i)), "name": .string("\(word) \(i / Self.agentWords.count + 1)"),
                    "owner_email": .string("owner\(i % 9 + 1)@example.com"), "owner_id": .string("owner-\(i % 9 + 1)"),
                    "schedule": scheduled ? .string(random.pick(["*/15 * * * *", "0 * * * *", "0 8 * * *"])) : .null,
                    "created_at": .string(createdAt.iso8601), "updated_at": .string(createdAt.iso8601)]
        }
    }

    /// One finished run (success, failed or canceled) started at `start`, with its LLM calls.
    public mutating func finishedRun(id: String, start: UTCTime) -> [JSON] {
        // Popular agents get more runs: a skewed pick.
        let agent = Int(Double(agentCount) * pow(random.unit(), 2))
        let user = Int(Double(userCount) * pow(random.unit(), 1.5))
        let m = demoModels[Int(Double(demoModels.count) * pow(random.unit(), 1.3))]
        let durationMs = Int64(min(random.logNormal(median: 4_000, sigma: 0.9), 600_000))
        let roll = random.unit()
        let status = roll < 0.06 ? "failed" : roll < 0.08 ? "canceled" : "success"
        let promptTokens = Int64(random.logNormal(median: 1_800, sigma: 0.7))
        let completionTokens = Int64(random.logNormal(median: 400, sigma: 0.8))
        var cost: JSON = .null
        if let p = m.prompt, let c = m.completion {
            cost = .double((Double(promptTokens) * p + Double(completionTokens) * c) / 1_000_000)
        }
        let finish = start.adding(seconds: durationMs / 1000)
        var records: [JSON] = [[
            "kind": "run", "run_id": .string(id), "agent_id": .string(agentID(agent)), "user_id": .string(userID(user)),
            "status": .string(status), "created_at": .string(start.adding(seconds: -Int64(random.int(0...5))).iso8601),
            "started_at": .string(start.iso8601), "finished_at": .string(finish.iso8601), "duration_ms": .int(durationMs),
            "model": .string(m.model), "prompt_tokens": .int(promptTokens), "completion_tokens": .int(completionTokens),
            "cost_usd": cost, "error": status == "failed" ? .string(random.pick(Self.errors)) : .null,
        ]]
        let calls = random.int(1...3)
        for c in 0..<calls {
            let failedCall = status == "failed" && c == calls - 1
            records.append([
                "kind": "llm_call", "id": .string("\(id)-c\(c)"), "ts": .string(start.adding(seconds: Int64(c)).iso8601),
                "org_id": .string("org-\(user % 7 + 1)"), "run_id": .string(id), "provider": .string(m.provider),
                "model": .string(m.model), "prompt_tokens": .int(promptTokens / Int64(calls)),
                "completion_tokens": .int(completionTokens / Int64(calls)),
                "latency_ms": .int(Int64(random.logNormal(median: 900, sigma: 0.6))),
                "status": .string(failedCall ? "error" : "ok"), "error_code": failedCall ? "provider_error" : .null,
                // null: priced by Opsplane from ops.pricing (or unknown for unpriced models)
                "cost_usd": .null,
            ])
        }
        return records
    }

    public mutating func message(id: String, at: UTCTime) -> JSON {
        ["kind": "message", "message_id": .string(id), "thread_id": .string("thread-\(random.int(1...400))"),
         "user_id": .string(userID(Int(Double(userCount) * pow(random.unit(), 1.5)))), "created_at": .string(at.iso8601)]
    }

    /// Workers, queues and models reporting in.
    public mutating func heartbeats(at: UTCTime) -> [JSON] {
        var out: [JSON] = []
        for w in 1...3 {
            out.append(["kind": "heartbeat", "component": .string("worker-\(w)"), "component_type": "worker",
                        "status": random.unit() < 0.97 ? "healthy" : "degraded", "ts": .string(at.iso8601),
                        "metrics": ["jobs_in_flight": .int(Int64(random.int(0...8))), "cpu_pct": .double((random.unit() * 900).rounded() / 10)]])
        }
        for (q, base) in [("runs", 20), ("emails", 5), ("webhooks", 40)] {
            out.append(["kind": "heartbeat", "component": .string("queue-\(q)"), "component_type": "queue", "status": "healthy",
                        "ts": .string(at.iso8601),
                        "metrics": ["depth": .int(Int64(random.int(0...(base * 2)))),
                                    "processing_rate": .double((random.unit() * 50 * 10).rounded() / 10),
                                    "failed": .int(Int64(random.int(0...3)))]])
        }
        out.append(["kind": "heartbeat", "component": "model-embeddings", "component_type": "model", "status": "healthy",
                    "ts": .string(at.iso8601),
                    "metrics": ["loaded": true, "inference_ms": .int(Int64(random.logNormal(median: 35, sigma: 0.3))),
                                "memory_mb": 2048]])
        return out
    }
}

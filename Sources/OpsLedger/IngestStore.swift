import OpsActivity
import OpsJSON
import OpsPostgres

/// What one ingest batch did.
public struct IngestOutcome: Equatable, Sendable {
    public var changedRecords = 0
    public var events = 0
    public var lastEventID: Int64?
}

/// Writes validated records. One transaction per batch: rows, the events they publish and
/// the `NOTIFY ops_events` all commit together or not at all. Rows are locked in id order,
/// so concurrent batches touching the same runs cannot deadlock.
public struct IngestStore {
    let db: PGConnection

    public init(connection: PGConnection) { self.db = connection }

    /// Stores `records` (already validated and de-duplicated by identity).
    public func store(_ records: [IngestRecord]) throws -> IngestOutcome {
        var agents: [AgentRecord] = [], runs: [RunRecord] = [], messages: [MessageRecord] = []
        var calls: [LLMCallRecord] = [], beats: [HeartbeatRecord] = []
        for r in records {
            switch r {
            case .agent(let a): agents.append(a)
            case .run(let x): runs.append(x)
            case .message(let m): messages.append(m)
            case .llmCall(let c): calls.append(c)
            case .heartbeat(let h): beats.append(h)
            }
        }
        let outcome = try db.transaction {
            var events: [(type: String, data: JSON)] = []
            var changed = 0
            changed += try storeAgents(agents, &events)
            changed += try storeRuns(runs, &events)
            changed += try storeMessages(messages, &events)
            changed += try storeLLMCalls(calls)
            changed += try storeHeartbeats(beats)
            var outcome = IngestOutcome(changedRecords: changed, events: events.count, lastEventID: nil)
            if changed > 0 { try db.query("SELECT nextval('ops.data_version')") }
            if !events.isEmpty { outcome.lastEventID = try EventLog(connection: db).append(events) }
            return outcome
        }
        // Again after the commit: an answer computed between the nextval above and the commit
        // carries this batch's version without its rows (a sequence is not transactional).
        // This second version marks it out of date, so it is computed again; without it an
        // answer of unchanged data could miss the last batch until its next change. The batch
        // is stored whatever happens here, so a failure is not the client's error.
        if outcome.changedRecords > 0 { _ = try? db.query("SELECT nextval('ops.data_version')") }
        return outcome
    }

    // MARK: agents

    func storeAgents(_ agents: [AgentRecord], _ events: inout [(type: String, data: JSON)]) throws -> Int {
        guard !agents.isEmpty else { return 0 }
        let sorted = agents.sorted { $0.agentID < $1.agentID }
        let r = try db.query("""
            SELECT agent_id, name, owner_email, owner_id, schedule, \(micros("created_at")), \(micros("updated_at"))
            FROM ops.agents WHERE agent_id = ANY($1::text[]) ORDER BY agent_id FOR UPDATE
            """, [PGArray.literal(sorted.map { Optional($0.agentID) })])
        var stored: [String: AgentRecord] = [:]
        for i in 0..<r.rowCount {
            let a = AgentRecord(agentID: r.string(i, 0)!, name: r.string(i, 1)!, ownerEmail: r.string(i, 2),
                                ownerID: r.string(i, 3), schedule: r.string(i, 4), createdAt: r.time(i, 5),
                                updatedAt: r.time(i, 6))
            stored[a.agentID] = a
        }
        var rows: [AgentRecord] = []
        for a in sorted {
            let m = AgentMerge.merge(stored: stored[a.agentID], incoming: a)
            guard m.changed else { continue }
            rows.append(m.row)
            if let e = m.event {
                events.append((e, ["type": .string(e), "agent_id": .string(a.agentID), "name": .string(m.row.name),
                                   "owner_email": .from(m.row.ownerEmail), "scheduled": .bool(m.row.schedule != nil)]))
            }
        }
        guard !rows.isEmpty else { return 0 }
        try db.query("""
            INSERT INTO ops.agents AS a (agent_id, name, owner_email, owner_id, schedule, created_at, updated_at)
            SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::timestamptz[], $7::timestamptz[])
            ON CONFLICT (agent_id) DO UPDATE SET name = EXCLUDED.name, owner_email = EXCLUDED.owner_email,
                owner_id = EXCLUDED.owner_id, schedule = EXCLUDED.schedule, created_at = EXCLUDED.created_at,
                updated_at = EXCLUDED.updated_at, ingested_at = now()
            """, [PGArray.literal(rows.map { Optional($0.agentID) }), PGArray.literal(rows.map { Optional($0.name) }),
                  PGArray.literal(rows.map(\.ownerEmail)), PGArray.literal(rows.map(\.ownerID)),
                  PGArray.literal(rows.map(\.schedule)), PGArray.literal(rows.map { $0.createdAt?.sql }),
                  PGArray.literal(rows.map { $0.updatedAt?.sql })])
        return rows.count
    }

    // MARK: runs

    /// Runs not stored yet (nearly every record of a busy host) are inserted in one statement
    /// without reading first: `ON CONFLICT DO NOTHING RETURNING` tells which were new. Only the
    /// rest (updates, replays, a run another batch inserted first) are read, locked and merged.
    func storeRuns(_ runs: [RunRecord], _ events: inout [(type: String, data: JSON)]) throws -> Int {
        guard !runs.isEmpty else { return 0 }
        // One record per id (the last), as the route already guarantees: the insert below
        // would otherwise take the first and report both as new.
        var byID: [String: RunRecord] = [:]
        for r in runs { byID[r.runID] = r }
        let sorted = byID.values.sorted { $0.runID < $1.runID }
        let fresh = sorted.map { RunMerge.merge(stored: nil, incoming: $0) }
        let ins = try db.query("""
            INSERT INTO ops.runs (run_id, agent_id, user_id, status, created_at, started_at, finished_at,
                                  duration_ms, model, prompt_tokens, completion_tokens, cost_usd, error)
            \(Self.unnestRuns)
            ON CONFLICT (run_id) DO NOTHING
            RETURNING run_id
            """, Self.runParameters(fresh.map(\.row)))
        var inserted = Set<String>(minimumCapacity: ins.rowCount)
        for i in 0..<ins.rowCount { if let id = ins.string(i, 0) { inserted.insert(id) } }
        var stored: [RunRecord] = []
        for (run, m) in zip(sorted, fresh) {
            if inserted.contains(run.runID) {
                if let e = m.event { events.append(Self.runEvent(e, m.row)) }
            } else {
                stored.append(run)
            }
        }
        return inserted.count + (try mergeStoredRuns(stored, &events))
    }

    /// Runs that exist already: locked in id order, merged, written back when changed.
    func mergeStoredRuns(_ sorted: [RunRecord], _ events: inout [(type: String, data: JSON)]) throws -> Int {
        guard !sorted.isEmpty else { return 0 }
        let r = try db.query("""
            SELECT run_id, agent_id, user_id, status, \(micros("created_at")), \(micros("started_at")),
                   \(micros("finished_at")), duration_ms, model, prompt_tokens, completion_tokens, cost_usd, error
            FROM ops.runs WHERE run_id = ANY($1::text[]) ORDER BY run_id FOR UPDATE
            """, [PGArray.literal(sorted.map { Optional($0.runID) })])
        var stored: [String: StoredRun] = [:]
        for i in 0..<r.rowCount {
            let s = StoredRun(runID: r.string(i, 0)!, agentID: r.string(i, 1)!, userID: r.string(i, 2),
                              status: RunStatus(rawValue: r.string(i, 3)!)!, createdAt: r.time(i, 4)!,
                              startedAt: r.time(i, 5), finishedAt: r.time(i, 6), durationMs: r.int(i, 7),
                              model: r.string(i, 8), promptTokens: r.int(i, 9), completionTokens: r.int(i, 10),
                              costUSD: r.double(i, 11), error: r.string(i, 12))
            stored[s.runID] = s
        }
        var rows: [StoredRun] = []
        for run in sorted {
            let m = RunMerge.merge(stored: stored[run.runID], incoming: run)
            guard m.changed else { continue }
            rows.append(m.row)
            if let e = m.event { events.append(Self.runEvent(e, m.row)) }
        }
        guard !rows.isEmpty else { return 0 }
        // The WHERE keeps a concurrent batch that inserted the same new run first from being
        // moved backwards by this one.
        try db.query("""
            INSERT INTO ops.runs AS r (run_id, agent_id, user_id, status, created_at, started_at, finished_at,
                                      duration_ms, model, prompt_tokens, completion_tokens, cost_usd, error)
            \(Self.unnestRuns)
            ON CONFLICT (run_id) DO UPDATE SET agent_id = EXCLUDED.agent_id, user_id = EXCLUDED.user_id,
                status = EXCLUDED.status, started_at = EXCLUDED.started_at, finished_at = EXCLUDED.finished_at,
                duration_ms = EXCLUDED.duration_ms, model = EXCLUDED.model, prompt_tokens = EXCLUDED.prompt_tokens,
                completion_tokens = EXCLUDED.completion_tokens, cost_usd = EXCLUDED.cost_usd, error = EXCLUDED.error,
                ingested_at = now()
            WHERE (CASE EXCLUDED.status WHEN 'queued' THEN 0 WHEN 'running' THEN 1 ELSE 2 END)
               >= (CASE r.status WHEN 'queued' THEN 0 WHEN 'running' THEN 1 ELSE 2 END)
            """, Self.runParameters(rows))
        return rows.count
    }

    static let unnestRuns = """
        SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::timestamptz[],
                             $7::timestamptz[], $8::bigint[], $9::text[], $10::bigint[], $11::bigint[],
                             $12::numeric[], $13::text[])
        """

    static func runParameters(_ rows: [StoredRun]) -> [String?] {
        [PGArray.literal(rows.map { Optional($0.runID) }), PGArray.literal(rows.map { Optional($0.agentID) }),
         PGArray.literal(rows.map(\.userID)), PGArray.literal(rows.map { Optional($0.status.rawValue) }),
         PGArray.literal(rows.map { Optional($0.createdAt.sql) }), PGArray.literal(rows.map { $0.startedAt?.sql }),
         PGArray.literal(rows.map { $0.finishedAt?.sql }), PGArray.literal(rows.map(\.durationMs)),
         PGArray.literal(rows.map(\.model)), PGArray.literal(rows.map(\.promptTokens)),
         PGArray.literal(rows.map(\.completionTokens)), PGArray.literal(rows.map(\.costUSD)),
         PGArray.literal(rows.map(\.error))]
    }

    static func runEvent(_ type: String, _ row: StoredRun) -> (type: String, data: JSON) {
        (type, ["type": .string(type), "run_id": .string(row.runID), "agent_id": .string(row.agentID),
                "user_id": .from(row.userID), "status": .string(row.status.rawValue),
                "duration_ms": .from(row.durationMs), "cost_usd": .from(row.costUSD),
                "model": .from(row.model), "error": .from(row.error.map { String($0.prefix(500)) })])
    }

    // MARK: messages, LLM calls, heartbeats (insert-only by id)

    func storeMessages(_ messages: [MessageRecord], _ events: inout [(type: String, data: JSON)]) throws -> Int {
        guard !messages.isEmpty else { return 0 }
        let sorted = messages.sorted { $0.messageID < $1.messageID }
        let r = try db.query("""
            INSERT INTO ops.messages (message_id, thread_id, user_id, created_at)
            SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[])
            ON CONFLICT (message_id) DO NOTHING
            RETURNING message_id, thread_id, user_id
            """, [PGArray.literal(sorted.map { Optional($0.messageID) }), PGArray.literal(sorted.map { Optional($0.threadID) }),
                  PGArray.literal(sorted.map(\.userID)), PGArray.literal(sorted.map { Optional($0.createdAt.sql) })])
        for i in 0..<r.rowCount {
            events.append(("thread_message_created", ["type": "thread_message_created", "message_id": .from(r.string(i, 0)),
                                                      "thread_id": .from(r.string(i, 1)), "user_id": .from(r.string(i, 2))]))
        }
        return r.rowCount
    }

    /// LLM calls without a cost get one from the price in force at the call's time (the
    /// pricing row with the latest valid_from ≤ ts); unpriced models stay NULL (unknown).
    func storeLLMCalls(_ calls: [LLMCallRecord]) throws -> Int {
        guard !calls.isEmpty else { return 0 }
        let c = calls.sorted { $0.id < $1.id }
        let r = try db.query("""
            INSERT INTO ops.llm_calls (id, ts, org_id, run_id, provider, model, prompt_tokens, completion_tokens,
                                       latency_ms, status, error_code, cost_usd, cost_source)
            SELECT i.id, i.ts, i.org_id, i.run_id, i.provider, i.model, i.prompt_tokens, i.completion_tokens,
                   i.latency_ms, i.status, i.error_code, COALESCE(i.cost_usd, p.cost),
                   CASE WHEN i.cost_usd IS NOT NULL THEN 'reported' WHEN p.cost IS NOT NULL THEN 'priced' END
            FROM unnest($1::text[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bigint[],
                        $8::bigint[], $9::bigint[], $10::text[], $11::text[], $12::numeric[])
                 AS i(id, ts, org_id, run_id, provider, model, prompt_tokens, completion_tokens, latency_ms, status,
                      error_code, cost_usd)
            LEFT JOIN LATERAL (
                SELECT (COALESCE(i.prompt_tokens, 0) * pr.usd_per_m_prompt
                        + COALESCE(i.completion_tokens, 0) * pr.usd_per_m_completion) / 1000000 AS cost
                FROM ops.pricing pr
                WHERE pr.provider = i.provider AND pr.model = i.model AND pr.valid_from <= i.ts
                ORDER BY pr.valid_from DESC LIMIT 1
            ) p ON i.cost_usd IS NULL
            ON CONFLICT (id) DO NOTHING
            """, [PGArray.literal(c.map { Optional($0.id) }), PGArray.literal(c.map { Optional($0.ts.sql) }),
                  PGArray.literal(c.map(\.orgID)), PGArray.literal(c.map(\.runID)),
                  PGArray.literal(c.map { Optional($0.provider) }), PGArray.literal(c.map { Optional($0.model) }),
                  PGArray.literal(c.map(\.promptTokens)), PGArray.literal(c.map(\.completionTokens)),
                  PGArray.literal(c.map(\.latencyMs)), PGArray.literal(c.map(\.status)),
                  PGArray.literal(c.map(\.errorCode)), PGArray.literal(c.map(\.costUSD))])
        return r.affectedRows
    }

    /// The newest heartbeat per component is kept (an older one arriving late does not
    /// replace it); every sample is kept for the monitor's history.
    func storeHeartbeats(_ beats: [HeartbeatRecord]) throws -> Int {
        guard !beats.isEmpty else { return 0 }
        let b = beats.sorted { ($0.component, $0.ts) < ($1.component, $1.ts) }
        let params = [PGArray.literal(b.map { Optional($0.component) }), PGArray.literal(b.map { Optional($0.ts.sql) }),
                      PGArray.literal(b.map { Optional($0.status) }), PGArray.literal(b.map { Optional($0.metrics.serialized()) })]
        let samples = try db.query("""
            INSERT INTO ops.heartbeat_samples (component, ts, status, metrics)
            SELECT * FROM unnest($1::text[], $2::timestamptz[], $3::text[], $4::jsonb[])
            ON CONFLICT (component, ts) DO NOTHING
            """, params)
        // Latest per component within the batch, then upsert if newer than what is stored.
        var latest: [String: HeartbeatRecord] = [:]
        for h in b where (latest[h.component]?.ts ?? UTCTime(micros: .min)) <= h.ts { latest[h.component] = h }
        let l = latest.values.sorted { $0.component < $1.component }
        try db.query("""
            INSERT INTO ops.heartbeats AS h (component, component_type, status, ts, metrics)
            SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::jsonb[])
            ON CONFLICT (component) DO UPDATE SET component_type = EXCLUDED.component_type, status = EXCLUDED.status,
                ts = EXCLUDED.ts, metrics = EXCLUDED.metrics, received_at = now()
            WHERE EXCLUDED.ts >= h.ts
            """, [PGArray.literal(l.map { Optional($0.component) }), PGArray.literal(l.map { Optional($0.componentType.rawValue) }),
                  PGArray.literal(l.map { Optional($0.status) }), PGArray.literal(l.map { Optional($0.ts.sql) }),
                  PGArray.literal(l.map { Optional($0.metrics.serialized()) })])
        return samples.affectedRows
    }
}

-- Ingest at 1M runs a day is bound by index maintenance on ops.runs: each secondary B-tree
-- costs about 25 µs per inserted row once today's runs number a million (measured: 4,000-row
-- inserts, 520 ms with every index, 320 ms without runs_user_started and runs_agent_started).
--
-- * runs_user_started and runs_user_finished become one index: the budget guard's "runs
--   started today" are the user's runs with finished_at >= today (a run finishes after it
--   starts; ingest rejects the opposite) or still unfinished, with started_at checked from the
--   INCLUDEd column. Runs without a user never count against a user budget.
-- * runs_agent_started goes: its two readers (the p95 of the top agents, the digest's 7-day
--   average) now take one pass over runs_started, which INCLUDEs agent_id and duration_ms.
CREATE INDEX runs_user_budget ON ops.runs (user_id, finished_at) INCLUDE (started_at, cost_usd)
    WHERE user_id IS NOT NULL;
DROP INDEX ops.runs_user_finished;
DROP INDEX ops.runs_user_started;
DROP INDEX ops.runs_agent_started;

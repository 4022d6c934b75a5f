-- The budget guard's per-user figures (spend of runs finished today, runs started today) now
-- come from the run aggregates of migration 0014 (axes c and u: one primary-key row each), as
-- do the budget alerts'. runs_user_budget has no reader left, and each secondary index on
-- ops.runs costs ingest about 25 µs per inserted row at 1M runs a day (migration 0012).
DROP INDEX ops.runs_user_budget;

-- Reads of the monitoring routes, measured: running/queued counts scanned a day of
-- runs_created (about 1M entries at 1M runs a day); a 7-day module series read 720k rollup
-- rows by bucket instead of one service's (14.6 → 4.1 ms).
CREATE INDEX runs_open ON ops.runs (created_at) WHERE status IN ('queued', 'running');
CREATE INDEX probe_rollups_service ON ops.probe_rollups (service, grain, bucket);

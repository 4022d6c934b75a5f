-- 0003 gave ops.runs fillfactor 80 "for HOT updates". Measured: none of the status updates
-- can be HOT, because status, started_at, finished_at, duration_ms and cost_usd are all in
-- indexes (1,000 transitions, 0 HOT). The reserved fifth of every page only made the table
-- and its scans bigger. New pages are filled completely from now on.
ALTER TABLE ops.runs SET (fillfactor = 100);

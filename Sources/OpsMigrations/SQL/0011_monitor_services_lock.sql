-- Which monitor (by its lock name, OPS_MONITOR_LOCK) registered a service: a monitor retires
-- only its own services that left its configuration, never those of another monitor sharing
-- the database (a staging monitor, a test's) or rows written by anything else.
ALTER TABLE ops.monitor_services ADD COLUMN monitor_lock text;

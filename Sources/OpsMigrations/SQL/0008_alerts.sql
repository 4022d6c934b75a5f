-- Alerts: whether an alert's firing was announced (its resolution is announced only then),
-- and the data the hysteresis last counted for a key (a probe result or heartbeat seen again
-- at the next evaluation is not a second breach).
ALTER TABLE ops.alerts ADD COLUMN notified_at timestamptz;
ALTER TABLE ops.alert_rule_state ADD COLUMN last_sample text;

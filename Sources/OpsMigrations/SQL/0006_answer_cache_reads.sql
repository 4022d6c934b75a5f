-- When a cached answer was last read: the background refresher keeps only answers that
-- someone still reads fresh.
ALTER TABLE ops.api_cache ADD COLUMN last_read_at timestamptz NOT NULL DEFAULT now();

-- How long the request path last took to compute a cached answer (NULL until it has). The
-- refresher computes the summary and today's top agents from its in-memory histograms of
-- today's durations, a request with percentile_cont: at 1M runs today top agents took 19 ms in
-- the refresher and 2.7 s in a request. With compute_ms alone the refresher's 19 ms made the
-- answer look cheap, so the next request after a change computed it itself for 2.7 s, which
-- made it expensive again: every few seconds a request waited. An answer stays the
-- refresher's while either time is over OPS_CACHE_CHEAP_MS.
ALTER TABLE ops.api_cache ADD COLUMN request_ms double precision;

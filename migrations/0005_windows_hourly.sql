-- Exact hourly rollup of `windows`: one row per (tenant, currency, UTC hour), read by
-- series whose buckets are whole hours (HOUR and coarser in whole-hour zones, ranges
-- on hour boundaries; see src/resolvers/source.ts). A 30-day hourly dashboard reads
-- ~720 rows per currency here instead of ~43,000 minutes.
--
-- Exactness: a row is never updated incrementally. Whenever a flush (or a replay)
-- writes minute snapshots, every hour it touched is recomputed from `windows FINAL`
-- (the truth) with one INSERT … SELECT (src/storage/window-store.ts rollupHours), so a
-- late correction to any minute reaches its hour, and a retried recompute writes the
-- same row again.
--
-- Engine: ReplacingMergeTree(version); readers use FINAL. The newest recompute must win:
-- version = (ClickHouse's clock in ms, now64) × 2^21 + the sum of the hour's minute
-- revisions (capped at 2^21 − 1). The clock is the server's, one for every writer, and
-- orders recomputes even after minutes were lost and rewritten at revision 1 (`tilecast
-- replay`), which a pure content version (sum of minute versions) could not. Two
-- recomputes in the same millisecond are ordered by the revision sum: every change to
-- a minute raises its revision, so the one that saw more changes wins; equal sums mean
-- the same minutes (and equal versions keep the last inserted row).
-- ORDER BY (tenant_id, currency, hour_start): like `windows`, every read is one
-- tenant, optionally one currency, over a time range.
-- `users` merges the minutes' uniqExact states (uniqExactMergeState), so days and
-- months merged from hours still count a user once. `final` = min over the minutes,
-- `last_event_at_ms` = max, `trace_sample` = one minute's sample (as reads of
-- `windows` return one window's sample per bucket). `source` = the minutes' source
-- (a tenant maps to one source, so an hour does too).
CREATE TABLE IF NOT EXISTS windows_hourly
(
    tenant_id        String,
    currency         LowCardinality(String),
    hour_start       DateTime('UTC'),
    final            UInt8,
    revenue          Decimal(38, 6),
    purchases        UInt64,
    signups          UInt64,
    upgrades         UInt64,
    churns           UInt64,
    active_users     UInt64,
    users            AggregateFunction(uniqExact, String),
    last_event_at_ms Int64,
    trace_sample     Array(String),
    source           LowCardinality(String),
    minutes          UInt32,
    version          UInt64,
    written_at       DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(hour_start)
ORDER BY (tenant_id, currency, hour_start);

-- Model-driven storage: one narrow row per (tenant, metric, version, minute, dimension
-- values), so a new metric, version or dimension is rows, never DDL (docs/metrics.md).
--
-- A row is one metric's cell of one base window: the engine's window of
-- (tenant, currency, minute) stays the unit of revision and exactly-once (0002), and
-- every snapshot of a base window writes all of its cells with the window's revision.
-- `slice` is that base window's currency ('' when the model has none): a metric whose
-- `by` lacks currency gets one row per slice, and readers add the slices (values) or
-- merge them (distinct states). Cells only ever gain events, so a snapshot holds every
-- cell an earlier one had.
--
-- `dims`: the values of the metric's `by` dimensions in `by` order, '' for an event
-- without the field (a null slice; dimension values are never empty), '__other__' for
-- a value beyond the tenant's budget.
-- `value`: count or sum (Decimal, exact); 0 for distinct metrics.
-- `users`: the distinct metric's exact mergeable state (uniqExact over the field's
-- values); empty for count and sum.
-- Engine: ReplacingMergeTree(row_version), row_version = revision × 2^32 + the base
-- window's event count (as `windows.version`); readers use FINAL.
CREATE TABLE IF NOT EXISTS metric_windows
(
    tenant_id        String,
    metric           LowCardinality(String),
    metric_version   UInt16,
    window_start     DateTime('UTC'),
    dims             Array(String),
    slice            LowCardinality(String),
    revision         UInt32,
    final            UInt8,
    value            Decimal(38, 6),
    users            AggregateFunction(uniqExact, String),
    last_event_at_ms Int64,
    source           LowCardinality(String),
    row_version      UInt64,
    written_at       DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(row_version)
PARTITION BY toYYYYMM(window_start)
ORDER BY (tenant_id, metric, metric_version, window_start, dims, slice);

-- Writers insert plain values here; the view turns `users` into the uniqExact state.
CREATE TABLE IF NOT EXISTS metric_windows_input
(
    tenant_id        String,
    metric           String,
    metric_version   UInt16,
    window_start     DateTime('UTC'),
    dims             Array(String),
    slice            String,
    revision         UInt32,
    final            UInt8,
    value            Decimal(38, 6),
    users            Array(String),
    last_event_at_ms Int64,
    source           String,
    row_version      UInt64
)
ENGINE = Null;

CREATE MATERIALIZED VIEW IF NOT EXISTS metric_windows_input_mv TO metric_windows AS
SELECT
    tenant_id, metric, metric_version, window_start, dims, slice, revision, final, value,
    arrayReduce('uniqExactState', users) AS users, last_event_at_ms, source, row_version
FROM metric_windows_input;

-- Exact hourly rollup of `metric_windows` (slices merged), recomputed from
-- `metric_windows FINAL` for every hour a flush touched, like `windows_hourly` (0005):
-- never updated incrementally, the newest recompute wins
-- (row_version = now64 ms × 2^21 + the sum of the minutes' revisions, capped).
CREATE TABLE IF NOT EXISTS metric_windows_hourly
(
    tenant_id        String,
    metric           LowCardinality(String),
    metric_version   UInt16,
    hour_start       DateTime('UTC'),
    dims             Array(String),
    final            UInt8,
    value            Decimal(38, 6),
    users            AggregateFunction(uniqExact, String),
    last_event_at_ms Int64,
    minutes          UInt32,
    row_version      UInt64,
    written_at       DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(row_version)
PARTITION BY toYYYYMM(hour_start)
ORDER BY (tenant_id, metric, metric_version, hour_start, dims);

-- Backfill of the model's metrics from the event log (src/aggregate/backfill/): per
-- metric@version, when live computation began and which time ranges the backfill covered.
--
-- kind 'live': `range_from` = the first start of a process that computes this version
--   live (the earliest row wins; every aggregating process inserts one when it finds none).
-- kind 'range': [range_from, range_to) of window starts whose minute rows of this metric
--   were written from the event log. A run walks hours newest first, from the hour after
--   live computation began down to the oldest logged window, and records each chunk (and
--   the empty hours above it) after its rows are written: a run killed mid-way resumes
--   below the lowest contiguous range.
-- kind 'done': the walk reached the oldest logged window. `incomplete_before`: windows
--   older than that stay without this metric for good (the log no longer holds their
--   events, RETENTION_EVENTS_DAYS); NULL when there are none.
-- A small table read whole per metric set: MergeTree, rows are only ever added.
CREATE TABLE IF NOT EXISTS backfill_coverage
(
    metric            LowCardinality(String),
    metric_version    UInt16,
    kind              Enum8('live' = 1, 'range' = 2, 'done' = 3),
    range_from        DateTime64(3, 'UTC'),
    range_to          DateTime64(3, 'UTC'),
    incomplete_before Nullable(DateTime64(3, 'UTC')),
    run_id            String,
    recorded_at       DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = MergeTree
ORDER BY (metric, metric_version, kind, range_from);

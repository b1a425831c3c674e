-- Published metric versions (docs/metrics.md, "Versions are immutable"): one row per
-- (metric, version) as first published by `tilecast migrate` or a starting process —
-- its canonical definition, checksum, a formula's pinned operand versions, and the
-- model it came from. A process whose model gives a published version another
-- checksum refuses to start.
-- Append-only MergeTree, not ReplacingMergeTree: two processes publishing the same new
-- version at once may write two rows, and the first published must win (readers take
-- argMin by published_at), not the last merged. Rows are written only for versions not
-- yet recorded, so the table stays as small as the model's history.
CREATE TABLE IF NOT EXISTS metric_definitions
(
    metric         LowCardinality(String),
    metric_version UInt16,
    definition     String,
    checksum       String,
    -- A formula's operands as pinned when it was published (name → version); empty for stored metrics.
    pins           Map(String, UInt16),
    model          String,
    published_at   DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = MergeTree
ORDER BY (metric, metric_version, published_at);

-- Which versions each running process computes (aggregates into windows) and serves
-- (answers queries for), so processes started with different models for the same
-- storage can tell (docs/metrics.md, "Versions and processes"). A process writes its row
-- at start, again every heartbeat (`beat` + 1, `heartbeat_at` the server's clock), and
-- once more with `stopped = 1` when it stops; a row whose heartbeat is older than the
-- expiry is a dead process and is ignored. ReplacingMergeTree(beat): rewriting a
-- process's row is harmless, its newest beat wins.
CREATE TABLE IF NOT EXISTS model_publications
(
    process_id     String,
    role           LowCardinality(String),
    host           String,
    pid            UInt32,
    model          String,
    model_path     String,
    model_checksum String,
    computes       Array(String),
    serves         Array(String),
    started_at     DateTime64(3, 'UTC') DEFAULT now64(3),
    beat           UInt64,
    stopped        UInt8,
    heartbeat_at   DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(beat)
ORDER BY process_id
TTL toDateTime(heartbeat_at) + INTERVAL 7 DAY;

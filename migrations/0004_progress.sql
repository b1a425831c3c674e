-- How far each aggregator source has got, written after every successful flush:
-- `checkpoint_seq` (every logged event with seq ≤ it is in `windows`),
-- `processed_through_ms` (freshness: everything accepted before it is stored) and
-- `watermark_ms` (restarts resume from it so stored final windows are never
-- overwritten by a fresh, empty one). The newest row per source wins.
CREATE TABLE IF NOT EXISTS progress
(
    source               String,
    checkpoint_seq       UInt64,
    processed_through_ms Int64,
    watermark_ms         Int64,
    updated_at           DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(updated_at)
ORDER BY source;

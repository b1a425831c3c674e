-- The event log: every accepted event, once per idempotency key (the intake and the
-- Kafka workers look keys up here before appending). It is the source of truth the
-- aggregators restore windows from after a crash, a rebalance, or when a late event
-- reaches a window no longer in memory, and the record of how far each source got.
--
-- `source` names the aggregator source that logged the row: 'http' (embedded intake,
-- `seq` = its batch number) or 'kafka:<topic>:<partition>' (`seq` = Kafka offset + 1,
-- i.e. the next offset to consume, so 0 means "nothing logged"). A worker resumes a
-- partition from max(seq) of its source. `writer` identifies the worker incarnation
-- that logged a Kafka row: a row another incarnation logged into our source *after* the
-- point we resumed from (a write that timed out, or a zombie's, landing late) is not in
-- our windows yet, so the dedupe lookup must not count it (see event-log.ts).
--
-- ORDER BY (tenant_id, currency, window_start, event_key): a restore reads one
-- minute of one tenant × currency, which is a contiguous range of this key.
-- The dedupe lookup (tenant_id, event_key IN …) is served by the bloom filter;
-- recovery scans `source = … AND seq > checkpoint`, helped by the minmax index on seq.
--
-- PARTITION BY the month the row was *received* (now64() is one value per INSERT), so
-- one INSERT always lands in one partition = one part, which ClickHouse commits
-- atomically: the log never holds half a batch, and max(seq) per source is a safe
-- resume point. (Partitioning by event time would split a batch with late or
-- out-of-order events across parts.) Month partitions keep TTL drops cheap.
--
-- non_replicated_deduplication_window: remember the last 10000 insert blocks' ids, so a
-- retried INSERT with the same insert_deduplication_token (the Kafka batch's
-- topic:partition:first-last offsets) is dropped instead of logged twice. Every
-- writer passes a token naming its batch (tokenless identical blocks would collapse).
CREATE TABLE IF NOT EXISTS events
(
    tenant_id     String,
    currency      LowCardinality(String),
    window_start  DateTime('UTC'),
    event_key     String,
    event_type    LowCardinality(String),
    user_id       String,
    amount        Nullable(Decimal(38, 6)),
    trace_id      String,
    event_time_ms Int64,
    source        LowCardinality(String),
    seq           UInt64,
    writer        LowCardinality(String),
    received_at   DateTime64(3, 'UTC') DEFAULT now64(3),
    INDEX event_key_bloom event_key TYPE bloom_filter(0.001) GRANULARITY 4,
    INDEX seq_minmax seq TYPE minmax GRANULARITY 1
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(received_at)
ORDER BY (tenant_id, currency, window_start, event_key)
SETTINGS non_replicated_deduplication_window = 10000;

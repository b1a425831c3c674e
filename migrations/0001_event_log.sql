-- The event log: every accepted event, once per idempotency key (the intake looks
-- keys up here before appending). It is the source of truth the aggregator restores
-- windows from after a crash, or when a late event reaches a window no longer in memory.
--
-- ORDER BY (tenant_id, currency, window_start, event_key): a restore reads one
-- minute of one tenant × currency, which is a contiguous range of this key.
-- The dedupe lookup (tenant_id, event_key IN …) is served by the bloom filter;
-- recovery scans `seq > checkpoint`, served by the minmax index on seq.
-- PARTITION BY month keeps TTL drops and replays cheap.
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
    seq           UInt64,
    received_at   DateTime64(3, 'UTC') DEFAULT now64(3),
    INDEX event_key_bloom event_key TYPE bloom_filter(0.001) GRANULARITY 4,
    INDEX seq_minmax seq TYPE minmax GRANULARITY 1
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(window_start)
ORDER BY (tenant_id, currency, window_start, event_key);

-- One row per write of a one-minute window; the highest revision wins.
--
-- Engine: ReplacingMergeTree(version). Every write is a full snapshot of the window,
-- so rewriting the same revision (a retried flush) is harmless, and readers use
-- FINAL to see exactly the newest revision per window.
-- `version` = revision × 2^32 + the number of events in the snapshot: a window only
-- ever gains events, so when two writers produce the same revision (a Kafka partition
-- moved and the previous owner's last flush landed after the new owner restored the
-- window) the more complete snapshot wins instead of whichever was inserted last.
-- `source` is the aggregator source that wrote the snapshot ('http' or
-- 'kafka:<topic>:<partition>'); a worker taking over a partition reopens exactly the
-- not-final windows of that source. A tenant maps to one source, so a window does too.
-- ORDER BY (tenant_id, currency, window_start): every read is one tenant, optionally
-- one currency, over a time range.
-- `users` is a mergeable distinct state (uniqExact): hours and days merge the states
-- of their minutes, so a user active in many minutes counts once. uniqExact keeps
-- distinct counts exact; its state grows with distinct users per window.
CREATE TABLE IF NOT EXISTS windows
(
    tenant_id        String,
    currency         LowCardinality(String),
    window_start     DateTime('UTC'),
    revision         UInt32,
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
    version          UInt64,
    written_at       DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(window_start)
ORDER BY (tenant_id, currency, window_start);

-- Writers insert plain user ids here; the view turns them into the uniqExact state.
-- A Null table stores nothing itself.
CREATE TABLE IF NOT EXISTS windows_input
(
    tenant_id        String,
    currency         String,
    window_start     DateTime('UTC'),
    revision         UInt32,
    final            UInt8,
    revenue          Decimal(38, 6),
    purchases        UInt64,
    signups          UInt64,
    upgrades         UInt64,
    churns           UInt64,
    active_users     UInt64,
    users            Array(String),
    last_event_at_ms Int64,
    trace_sample     Array(String),
    source           String
)
ENGINE = Null;

CREATE MATERIALIZED VIEW IF NOT EXISTS windows_input_mv TO windows AS
SELECT
    tenant_id, currency, window_start, revision, final, revenue, purchases, signups, upgrades, churns,
    active_users, arrayReduce('uniqExactState', users) AS users, last_event_at_ms, trace_sample, source,
    toUInt64(revision) * 4294967296 + (purchases + signups + upgrades + churns) AS version
FROM windows_input;

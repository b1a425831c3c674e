-- Rejected input with its reason and the raw payload (truncated to 64 KiB by the
-- writer), for operators to inspect and replay. tenant_id is '' when the payload
-- named none we could trust. ORDER BY (tenant_id, received_at): operators page
-- through one tenant's recent dead letters. Kept 30 days.
CREATE TABLE IF NOT EXISTS dead_letters
(
    id          UUID DEFAULT generateUUIDv4(),
    tenant_id   String,
    source      LowCardinality(String),
    reason      LowCardinality(String),
    issues      String,
    raw         String,
    received_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = MergeTree
ORDER BY (tenant_id, received_at, id)
TTL toDateTime(received_at) + INTERVAL 30 DAY;

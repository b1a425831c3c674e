-- Distinct users of an hour range as a count instead of a union.
--
-- Why: a dashboard's distinct-user totals merged every hour's user keys of its range
-- (uniqExactArray over windows_hourly.user_keys, ~1.7M keys for a 30-day dashboard).
-- Here each (tenant, scope, hour) keeps its distinct users and, parallel to them, the
-- previous hour each user was active in the same scope. A user active in [F, T) is
-- counted exactly once — in its first hour there, the one whose previous hour is < F —
-- so distinct users of [F, T) = sum(arrayCount(p -> p < F, prev_hours)) over the rows of
-- hours in [F, T) (FINAL), with F in hours since the epoch.
--
-- Columns:
-- `scope`      a currency, or '' = over all currencies (a user in two currencies of one
--              hour is one user there; its keys are the distinct union of the hour's
--              currency rows).
-- `user_keys`  the 128-bit keys of windows_hourly.user_keys (see 0007).
-- `prev_hours` parallel to user_keys: the previous hour (intDiv(toUnixTimestamp(hour), 3600))
--              the user was active in this scope; 0 = none. Exact whenever that hour is
--              within USERS_LOOKBACK_HOURS (src/storage/users-hourly.ts); older ones may be
--              0 or any older hour, so the count is exact for T − F ≤ the lookback and
--              readers merge keys for longer ranges.
--
-- Written by src/storage/window-store.ts rollupHours right after windows_hourly, from
-- it, for the touched hours and the later ones within the lookback (a late user in an
-- earlier hour changes their previous hours). Engine: ReplacingMergeTree(version), read
-- with FINAL; version = the clock in ms, so the newest recompute wins. ORDER BY (tenant_id,
-- scope, hour_start): every read is one tenant, one scope, a range of hours. The TTL is the
-- windows' one (src/storage/retention.ts). prev_hours are hour numbers in a narrow range
-- (19 bits now): T64 packs them to that width before LZ4; keys are hashes, nothing to gain.
CREATE TABLE IF NOT EXISTS users_hourly
(
    tenant_id  String,
    scope      LowCardinality(String),
    hour_start DateTime('UTC'),
    user_keys  Array(UInt128),
    prev_hours Array(UInt32) CODEC(T64, LZ4),
    version    UInt64
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(hour_start)
ORDER BY (tenant_id, scope, hour_start);

-- One-time backfill from the hours stored before this migration: each user's sorted distinct
-- hours per (tenant, scope); an hour's previous one is the element before it (unbounded
-- lookback). The same shape as the live statement (src/storage/users-hourly.ts) without its
-- bounds. Migrations run before the aggregators start; on a fresh install it inserts nothing.
INSERT INTO users_hourly (tenant_id, scope, hour_start, user_keys, prev_hours, version)
SELECT tenant_id, scope, toDateTime(h * 3600, 'UTC'), groupArray(key), groupArray(prev), toUInt64(toUnixTimestamp64Milli(now64(3)))
FROM (
    SELECT tenant_id, scope, key, arraySort(groupUniqArray(intDiv(toUnixTimestamp(hour_start), 3600))) AS hs
    FROM windows_hourly FINAL
    ARRAY JOIN user_keys AS key
    ARRAY JOIN [currency, ''] AS scope
    GROUP BY tenant_id, scope, key
)
ARRAY JOIN hs AS h, arrayPushFront(arrayPopBack(hs), 0) AS prev
GROUP BY tenant_id, scope, h;

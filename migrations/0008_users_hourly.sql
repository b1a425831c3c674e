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
--
-- It is also the read model of hour-aligned series up to the lookback: each currency row
-- carries its windows_hourly metrics, copied by the same statement that computes its
-- users. A read takes metrics and user counts from this one table, so it never pairs the
-- metrics of one recompute with the users of another (windows_hourly is written first,
-- then this table from it). `currency` names the scope for readers that group by
-- currency; the '' rows carry no metrics (zeros).
CREATE TABLE IF NOT EXISTS users_hourly
(
    tenant_id                   String,
    scope                       LowCardinality(String),
    currency                    LowCardinality(String) ALIAS scope,
    hour_start                  DateTime('UTC'),
    user_keys                   Array(UInt128),
    prev_hours                  Array(UInt32) CODEC(T64, LZ4),
    final                       UInt8,
    revenue                     Decimal(38, 6),
    purchases                   UInt64,
    signups                     UInt64,
    upgrades                    UInt64,
    churns                      UInt64,
    active_users                UInt64,
    active_users_all_currencies UInt64,
    last_event_at_ms            Int64,
    trace_sample                Array(String),
    version                     UInt64
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(hour_start)
ORDER BY (tenant_id, scope, hour_start);

-- One-time backfill from the hours stored before this migration: each user's sorted distinct
-- hours per (tenant, scope); an hour's previous one is the element before it (unbounded
-- lookback). The same shape as the live statement (src/storage/users-hourly.ts) without its
-- bounds. Migrations run before the aggregators start; on a fresh install it inserts nothing.
INSERT INTO users_hourly
    (tenant_id, scope, hour_start, user_keys, prev_hours, final, revenue, purchases, signups, upgrades, churns,
     active_users, active_users_all_currencies, last_event_at_ms, trace_sample, version)
SELECT u.tenant_id, u.scope, u.hour_start, u.keys, u.prevs, m.final, m.revenue, m.purchases, m.signups, m.upgrades, m.churns,
       if(u.scope = '', length(u.keys), m.active_users), m.active_users_all_currencies, m.last_event_at_ms, m.trace_sample,
       toUInt64(toUnixTimestamp64Milli(now64(3)))
FROM (
    SELECT tenant_id, scope, toDateTime(h * 3600, 'UTC') AS hour_start, groupArray(key) AS keys, groupArray(prev) AS prevs
    FROM (
        SELECT tenant_id, scope, key, arraySort(groupUniqArray(intDiv(toUnixTimestamp(hour_start), 3600))) AS hs
        FROM windows_hourly FINAL
        ARRAY JOIN user_keys AS key
        ARRAY JOIN [currency, ''] AS scope
        GROUP BY tenant_id, scope, key
    )
    ARRAY JOIN hs AS h, arrayPushFront(arrayPopBack(hs), 0) AS prev
    GROUP BY tenant_id, scope, h
) AS u
LEFT JOIN (SELECT tenant_id, currency, hour_start, final, revenue, purchases, signups, upgrades, churns, active_users,
                  active_users_all_currencies, last_event_at_ms, trace_sample FROM windows_hourly FINAL) AS m
    ON m.tenant_id = u.tenant_id AND m.currency = u.scope AND m.hour_start = u.hour_start;

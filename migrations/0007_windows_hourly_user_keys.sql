-- Distinct users of windows_hourly, readable without merging uniqExact states.
--
-- Why: a 30-day hourly dashboard merged ~500,000 state entries per period and per
-- grouping set, and most of that time was deserializing the states (each becomes a hash
-- table before it is merged). Two columns make the same exact counts cheap:
--
-- `user_keys` = the 128-bit keys held in the row's `users` state, as a plain array.
--   uniqExact keeps a distinct user as the 128-bit SipHash of the id, and its state is
--   stored as varint(count) followed by count × 16 key bytes; the keys are cut out of
--   that state, so `uniqExactArray(user_keys)` over any rows counts exactly what
--   `uniqExactMerge(users)` counts (the same keys, no hash table per row to rebuild).
--   ClickHouse keeps the state format stable (states live on disk); the rollup and its
--   test check length(user_keys) = active_users.
-- `active_users_all_currencies` = distinct users of the tenant in that hour over every
--   currency (the same in each currency row of the hour), so hourly points of a series
--   without a currency need no merge at all. A recompute therefore always rewrites every
--   currency row of a touched (tenant, hour) (src/storage/window-store.ts rollupHours).
--
-- Then every stored hour row is rewritten once with the new columns, from its own state
-- (not from the minutes: an hour may outlive its minutes at the retention edge), with
-- version + 1 so it replaces the row it came from. Migrations run before the aggregators
-- start, so nothing recomputes hours meanwhile; every later recompute (clock-based
-- version, see 0005) is newer still. On a fresh install it inserts nothing.
ALTER TABLE windows_hourly ADD COLUMN IF NOT EXISTS user_keys Array(UInt128) AFTER users;

ALTER TABLE windows_hourly ADD COLUMN IF NOT EXISTS active_users_all_currencies UInt64 AFTER user_keys;

INSERT INTO windows_hourly
    (tenant_id, currency, hour_start, final, revenue, purchases, signups, upgrades, churns, active_users, users, user_keys,
     active_users_all_currencies, last_event_at_ms, trace_sample, source, minutes, version)
SELECT tenant_id, currency, hour_start, final, revenue, purchases, signups, upgrades, churns, active_users, users,
       arrayMap(k -> reinterpretAsUInt128(unhex(k)),
                extractAll(substring(hex(toString(users)), 2 * (length(toString(users)) - 16 * finalizeAggregation(users)) + 1), '.{32}')),
       uniqExactMerge(users) OVER (PARTITION BY tenant_id, hour_start),
       last_event_at_ms, trace_sample, source, minutes, version + 1
FROM windows_hourly FINAL;

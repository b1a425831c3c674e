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
-- Then every stored hour is recomputed once from the minutes with the new columns, as in
-- 0006 (the same statement as rollupHours; the newer version replaces the old rows).
ALTER TABLE windows_hourly ADD COLUMN IF NOT EXISTS user_keys Array(UInt128) AFTER users;

ALTER TABLE windows_hourly ADD COLUMN IF NOT EXISTS active_users_all_currencies UInt64 AFTER user_keys;

INSERT INTO windows_hourly
    (tenant_id, currency, hour_start, final, revenue, purchases, signups, upgrades, churns, active_users, users, user_keys,
     active_users_all_currencies, last_event_at_ms, trace_sample, source, minutes, version)
SELECT tenant_id, currency, hour, h_final, h_revenue, h_purchases, h_signups, h_upgrades, h_churns, finalizeAggregation(h_users), h_users,
       arrayMap(k -> reinterpretAsUInt128(unhex(k)),
                extractAll(substring(hex(toString(h_users)), 2 * (length(toString(h_users)) - 16 * finalizeAggregation(h_users)) + 1), '.{32}')),
       uniqExactMerge(h_users) OVER (PARTITION BY tenant_id, hour),
       h_last_event_at_ms, h_trace_sample, h_source, h_minutes, h_version
FROM
(
    SELECT tenant_id, currency, toStartOfHour(window_start) AS hour, min(final) AS h_final, sum(revenue) AS h_revenue,
           sum(purchases) AS h_purchases, sum(signups) AS h_signups, sum(upgrades) AS h_upgrades, sum(churns) AS h_churns,
           uniqExactMergeState(users) AS h_users, max(last_event_at_ms) AS h_last_event_at_ms,
           arraySlice(anyIf(trace_sample, notEmpty(trace_sample)), 1, 5) AS h_trace_sample, any(source) AS h_source, count() AS h_minutes,
           toUInt64(toUnixTimestamp64Milli(now64(3))) * 2097152 + least(sum(revision), 2097151) AS h_version
    FROM windows FINAL
    GROUP BY tenant_id, currency, hour
);

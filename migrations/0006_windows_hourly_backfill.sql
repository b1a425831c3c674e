-- One-time backfill of windows_hourly from the minute windows stored before 0005: from
-- now on flushes and replays keep every hour they touch recomputed, but hours nobody
-- touches again would otherwise read as empty from the rollup. Same statement shape and
-- version as src/storage/window-store.ts rollupHours (a recompute always beats what it
-- replaces; re-running it writes the same rows). Migrations run before the aggregators
-- start, so nothing writes minutes meanwhile; on a fresh install it inserts nothing.
INSERT INTO windows_hourly
    (tenant_id, currency, hour_start, final, revenue, purchases, signups, upgrades, churns, active_users, users,
     last_event_at_ms, trace_sample, source, minutes, version)
SELECT tenant_id, currency, toStartOfHour(window_start) AS hour, min(final), sum(revenue), sum(purchases), sum(signups),
       sum(upgrades), sum(churns), uniqExactMerge(users), uniqExactMergeState(users), max(last_event_at_ms),
       arraySlice(anyIf(trace_sample, notEmpty(trace_sample)), 1, 5), any(source), count(),
       toUInt64(toUnixTimestamp64Milli(now64(3))) * 2097152 + least(sum(revision), 2097151)
FROM windows FINAL
GROUP BY tenant_id, currency, hour;

/**
 * `users_hourly` (migrations/0008): each (tenant, scope, hour)'s distinct users with, per
 * user, the previous hour that user was active in the same scope. Distinct users of an
 * hour-aligned range [F, T) are then a count, not a union: Σ over its hours of the users
 * whose previous hour is < F — exact for T − F ≤ USERS_LOOKBACK_HOURS (see 0008).
 *
 * Written right after windows_hourly (src/storage/window-store.ts rollupHours), from
 * `windows_hourly FINAL`, for the same touched (tenant, hour) chunk. Each currency row
 * also carries that hour's windows_hourly metrics, copied in the same statement: the
 * series reader takes hour-aligned ranges up to the lookback from this table alone, so
 * a read sees each hour's metrics and users from one recompute, never a newer rollup's
 * metrics beside an older recompute's users.
 */
import type { ClickHouse } from './clickhouse.ts';

/** How far back a stored previous hour is exact: ranges up to this long are counted, longer ones merged. */
export const USERS_LOOKBACK_HOURS = 35 * 24;

const HOUR_MS = 3_600_000;

/**
 * Recomputes, per tenant of the chunk, every stored hour in [first, last + L] (L =
 * lookback): the touched hours, and the later ones whose users' previous hour a late
 * user in a touched hour may have changed. Hours after last + L keep theirs: a previous
 * hour that moves into [first, last] is < h − L there either way, which the reader
 * treats as "none". Previous hours come from [first − L, last + L], so every previous
 * hour ≥ h − L of a recomputed hour h is seen.
 *
 * Cost: the live case (one touched hour, the newest) reads L hours of keys. The arrays are
 * cut down to the recomputed hours' keys (one hash set, `k IN (…)`) before anything is
 * array-joined, so only those users' hours are grouped: ~30 ms instead of ~90 ms for
 * joining all the lookback's keys first (1M events, 50k users, 35 days; 2 busy cores). The set is keys of any
 * tenant of the chunk: a superset for each, harmless since groups are per tenant.
 * Each (tenant, scope, key) gets its sorted distinct hours (the '' scope = all currencies,
 * where a user in two currencies of one hour counts once); each hour's previous one is the
 * element before it. version: the clock, so the newest recompute wins.
 */
const USERS_HOURLY_SQL = `INSERT INTO users_hourly
  (tenant_id, scope, hour_start, user_keys, prev_hours, final, revenue, purchases, signups, upgrades, churns,
   active_users, active_users_all_currencies, last_event_at_ms, trace_sample, version)
WITH {tenants:Array(String)} AS tenants, {first_hours:Array(UInt32)} AS firsts, {last_hours:Array(UInt32)} AS lasts,
     {lookback:UInt32} AS lookback
SELECT u.tenant_id, u.scope, u.hour_start, u.keys, u.prevs, m.final, m.revenue, m.purchases, m.signups, m.upgrades, m.churns,
       if(u.scope = '', length(u.keys), m.active_users), m.active_users_all_currencies, m.last_event_at_ms, m.trace_sample,
       toUInt64(toUnixTimestamp64Milli(now64(3)))
FROM (
SELECT tenant_id, scope, toDateTime(h * 3600, 'UTC') AS hour_start, groupArray(key) AS keys, groupArray(prev) AS prevs
FROM (
  SELECT tenant_id, scope, key, arraySort(groupUniqArray(h)) AS hs
  FROM (
    SELECT tenant_id, currency, intDiv(toUnixTimestamp(hour_start), 3600) AS h,
           arrayFilter(k -> k IN (
             SELECT arrayJoin(user_keys) FROM windows_hourly FINAL
             WHERE tenant_id IN tenants
               AND hour_start BETWEEN toDateTime(arrayMin(firsts) * 3600) AND toDateTime((arrayMax(lasts) + lookback) * 3600)
               AND intDiv(toUnixTimestamp(hour_start), 3600) BETWEEN firsts[indexOf(tenants, tenant_id)] AND lasts[indexOf(tenants, tenant_id)] + lookback
           ), user_keys) AS keys
    FROM windows_hourly FINAL
    WHERE tenant_id IN tenants
      AND hour_start BETWEEN toDateTime((arrayMin(firsts) - lookback) * 3600) AND toDateTime((arrayMax(lasts) + lookback) * 3600)
      AND h BETWEEN firsts[indexOf(tenants, tenant_id)] - lookback AND lasts[indexOf(tenants, tenant_id)] + lookback
  )
  ARRAY JOIN keys AS key
  ARRAY JOIN [currency, ''] AS scope
  GROUP BY tenant_id, scope, key
)
ARRAY JOIN hs AS h, arrayPushFront(arrayPopBack(hs), 0) AS prev
WHERE h BETWEEN firsts[indexOf(tenants, tenant_id)] AND lasts[indexOf(tenants, tenant_id)] + lookback
GROUP BY tenant_id, scope, h
) AS u
LEFT JOIN (
  SELECT tenant_id, currency, hour_start, final, revenue, purchases, signups, upgrades, churns, active_users,
         active_users_all_currencies, last_event_at_ms, trace_sample
  FROM windows_hourly FINAL
  WHERE tenant_id IN tenants
    AND hour_start BETWEEN toDateTime(arrayMin(firsts) * 3600) AND toDateTime((arrayMax(lasts) + lookback) * 3600)
) AS m ON m.tenant_id = u.tenant_id AND m.currency = u.scope AND m.hour_start = u.hour_start`;

/** Recomputes users_hourly after windows_hourly was recomputed for these (tenant, hour start ms) pairs. One statement. */
export async function recomputeUsersHourly(db: ClickHouse, hours: readonly { tenantId: string; hour: number }[]): Promise<void> {
  if (hours.length === 0) return;
  const span = new Map<string, { first: number; last: number }>();
  for (const { tenantId, hour } of hours) {
    const h = Math.floor(hour / HOUR_MS);
    const s = span.get(tenantId);
    span.set(tenantId, s ? { first: Math.min(s.first, h), last: Math.max(s.last, h) } : { first: h, last: h });
  }
  await db.command({
    queryId: 'users_hourly.recompute',
    sql: USERS_HOURLY_SQL,
    // Rebuilt from `windows_hourly FINAL`: running it again writes the same rows.
    idempotent: true,
    params: {
      tenants: [...span.keys()],
      first_hours: [...span.values()].map((s) => s.first),
      last_hours: [...span.values()].map((s) => s.last),
      lookback: USERS_LOOKBACK_HOURS,
    },
  });
}

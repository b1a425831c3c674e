/**
 * The (tenant, UTC hour)s that written minute windows fall in, grouped into chunks of one
 * hourly-rollup statement each (metric-window-store.ts), and that statement's bound
 * parameters: `tenants`, `minutes`, `key_tenants` and `key_hours`.
 */
export const unique = <T>(xs: Iterable<T>): T[] => [...new Set(xs)];
export const toSeconds = (ms: number) => Math.floor(ms / 1000);

const HOUR_MS = 3_600_000;
const MINUTE_MS = 60_000;
/** Hours per rollup statement. */
const ROLLUP_HOURS_PER_STATEMENT = 200;

export interface TouchedHour {
  tenantId: string;
  hour: number;
}

/** Distinct hours of `refs`, ordered by tenant then hour, in chunks of ROLLUP_HOURS_PER_STATEMENT. */
export function touchedHourChunks(refs: readonly { tenantId: string; windowStart: number }[]): TouchedHour[][] {
  const hours = [
    ...new Map(
      refs.map((r) => {
        const hour = Math.floor(r.windowStart / HOUR_MS) * HOUR_MS;
        return [`${r.tenantId}\u0000${hour}`, { tenantId: r.tenantId, hour }] as const;
      }),
    ).values(),
  ].sort((a, b) => (a.tenantId < b.tenantId ? -1 : a.tenantId > b.tenantId ? 1 : a.hour - b.hour));
  const chunks: TouchedHour[][] = [];
  for (let i = 0; i < hours.length; i += ROLLUP_HOURS_PER_STATEMENT) chunks.push(hours.slice(i, i + ROLLUP_HOURS_PER_STATEMENT));
  return chunks;
}

/** A rollup statement's parameters: the chunk's tenants and minutes (to read), and its (tenant, hour) keys (to keep). */
export function rollupParams(chunk: readonly TouchedHour[]) {
  const starts = unique(chunk.map((h) => h.hour));
  return {
    tenants: unique(chunk.map((h) => h.tenantId)),
    minutes: starts.flatMap((h) => Array.from({ length: 60 }, (_, m) => toSeconds(h + m * MINUTE_MS))),
    key_tenants: chunk.map((h) => h.tenantId),
    key_hours: chunk.map((h) => toSeconds(h.hour)),
  };
}

/**
 * What the backfill of the model's metrics reads and records (migrations/0013_backfill_coverage.sql):
 * when each metric@version began to be computed live, the time ranges the backfill covered,
 * and the reads of the event log and `windows` it plans with. `incompleteBefore` is what
 * readers ask: before which instant a metric's points are not (yet, or ever) backfilled.
 */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { ClickHouse } from './clickhouse.ts';

export const HOUR_MS = 3_600_000;
const REVISION_UNIT = 4_294_967_296; // 2^32
const toSeconds = (ms: number) => Math.floor(ms / 1000);
const floorHour = (ms: number) => Math.floor(ms / HOUR_MS) * HOUR_MS;

/** What the coverage table says about one metric@version. */
export interface Coverage {
  /** When live computation began; null when no process has computed it yet. */
  liveSince: number | null;
  /** Covered [from, to) ranges of window starts. */
  ranges: { from: number; to: number }[];
  /** The walk reached the oldest logged window: `incompleteBefore` from then on (null = complete). */
  done: { incompleteBefore: number | null } | null;
}

/** The end of what a backfill of a metric live since `liveSince` covers: the hour after the one live computation began in. */
export const backfillEnd = (liveSince: number): number => floorHour(liveSince) + 2 * HOUR_MS;

/** The lowest instant from which down to `end` the ranges are contiguous (`end` itself when none reaches it). */
export function coveredFrom(ranges: readonly { from: number; to: number }[], end: number): number {
  let cur = end;
  for (let moved = true; moved; ) {
    moved = false;
    for (const r of ranges) {
      if (r.from < cur && r.to >= cur) {
        cur = r.from;
        moved = true;
      }
    }
  }
  return cur;
}

/** Before which instant the points of a metric with this coverage are not backfilled (null = complete). */
export function incompleteBeforeOf(c: Coverage | undefined, now: number): number | null {
  if (!c || c.liveSince === null) return now;
  if (c.done) return c.done.incompleteBefore;
  return Math.min(c.liveSince, coveredFrom(c.ranges, backfillEnd(c.liveSince)));
}

/** A window of `windows FINAL`: what a backfilled cell row is tagged with. */
export interface StoredVersion {
  tenantId: string;
  currency: string;
  windowStart: number;
  revision: number;
  final: boolean;
  /** Events the stored revision counted (the low 32 bits of its version). */
  events: number;
  lastEventAt: number;
  source: string;
}

const coverageRow = z.object({
  metric: z.string(),
  metric_version: z.coerce.number(),
  kind: z.enum(['live', 'range', 'done']),
  from_ms: z.coerce.number(),
  to_ms: z.coerce.number(),
  incomplete_ms: z.coerce.number().nullable(),
});
const storedRow = z.object({
  tenant_id: z.string(),
  currency: z.string(),
  window_start_ms: z.coerce.number(),
  revision: z.coerce.number(),
  final: z.coerce.number(),
  version: z.coerce.bigint(),
  last_event_at_ms: z.coerce.number(),
  source: z.string(),
});
const idOf = (metric: string, version: number) => `${metric}@${version}`;
const splitId = (id: string) => {
  const at = id.lastIndexOf('@');
  return { metric: id.slice(0, at), metric_version: Number(id.slice(at + 1)) };
};

export function createBackfillStore(db: ClickHouse) {
  const runId = randomUUID();
  const insert = (queryId: string, rows: Record<string, unknown>[]) =>
    rows.length === 0 ? Promise.resolve() : db.insert({ queryId, table: 'backfill_coverage', idempotent: true, rows: rows.map((r) => ({ run_id: runId, ...r })) });

  const loadCoverage = async (ids: readonly string[]): Promise<Map<string, Coverage>> => {
    const out = new Map<string, Coverage>(ids.map((id) => [id, { liveSince: null, ranges: [], done: null }]));
    if (ids.length === 0) return out;
    const rows = await db.query({
      queryId: 'backfill.coverage',
      sql: `SELECT metric, metric_version, kind, toUnixTimestamp64Milli(range_from) AS from_ms, toUnixTimestamp64Milli(range_to) AS to_ms,
                   toUnixTimestamp64Milli(incomplete_before) AS incomplete_ms
            FROM backfill_coverage WHERE concat(metric, '@', toString(metric_version)) IN {ids:Array(String)}
            ORDER BY recorded_at`,
      params: { ids: [...new Set(ids)] },
      row: coverageRow,
    });
    for (const r of rows) {
      const c = out.get(idOf(r.metric, r.metric_version))!;
      if (r.kind === 'live') c.liveSince = c.liveSince === null ? r.from_ms : Math.min(c.liveSince, r.from_ms);
      else if (r.kind === 'range') c.ranges.push({ from: r.from_ms, to: r.to_ms });
      // The first done row: later ones (a racing run) saw the same log or less of it.
      else c.done ??= { incompleteBefore: r.incomplete_ms };
    }
    return out;
  };

  return {
    loadCoverage,

    /** Records `at` as the moment live computation of these ids began, for those with no record yet. */
    async recordLive(ids: readonly string[], at: number): Promise<void> {
      const known = await loadCoverage(ids);
      const missing = ids.filter((id) => known.get(id)?.liveSince === null);
      await insert('backfill.record_live', missing.map((id) => ({ ...splitId(id), kind: 'live', range_from: at, range_to: at })));
    },

    /** Records covered ranges, after their rows are written. */
    recordRanges: (ranges: readonly { id: string; from: number; to: number }[]): Promise<void> =>
      insert('backfill.record_ranges', ranges.map((r) => ({ ...splitId(r.id), kind: 'range', range_from: r.from, range_to: r.to }))),

    /** Records that the walk of these ids reached the oldest logged window. */
    recordDone: (done: readonly { id: string; incompleteBefore: number | null }[]): Promise<void> =>
      insert('backfill.record_done', done.map((d) => ({ ...splitId(d.id), kind: 'done', range_from: 0, range_to: 0, incomplete_before: d.incompleteBefore }))),

    /** Per metric id (`name@version`), the instant before which its points are not backfilled; null = complete. */
    async incompleteBefore(ids: readonly string[], now = Date.now()): Promise<Map<string, number | null>> {
      const coverage = await loadCoverage(ids);
      return new Map(ids.map((id) => [id, incompleteBeforeOf(coverage.get(id), now)]));
    },

    /** Logged events per hour of window start in [fromMs, toMs), newest hour first (rows, a logged duplicate counts twice). */
    async hourCounts(fromMs: number, toMs: number): Promise<{ hour: number; events: number }[]> {
      const rows = await db.query({
        queryId: 'backfill.hour_counts',
        sql: `SELECT toUnixTimestamp(toStartOfHour(window_start)) * 1000 AS hour, count() AS events FROM events
              WHERE window_start >= {from:DateTime('UTC')} AND window_start < {to:DateTime('UTC')}
              GROUP BY hour ORDER BY hour DESC`,
        params: { from: toSeconds(Math.max(0, fromMs)), to: toSeconds(toMs) },
        row: z.object({ hour: z.coerce.number(), events: z.coerce.number() }),
      });
      return rows;
    },

    /** The oldest window start of `events` and of `windows` (null when empty). */
    async oldest(): Promise<{ logged: number | null; stored: number | null }> {
      const q = (table: string) =>
        db.query({
          queryId: `backfill.oldest_${table}`,
          sql: `SELECT toUnixTimestamp(min(window_start)) * 1000 AS at, count() AS n FROM ${table}`,
          row: z.object({ at: z.coerce.number(), n: z.coerce.number() }),
        });
      const [[logged], [stored]] = await Promise.all([q('events'), q('windows')]);
      return { logged: logged?.n ? logged.at : null, stored: stored?.n ? stored.at : null };
    },

    /** The current revision of every stored window starting in [fromMs, toMs). */
    async storedVersions(fromMs: number, toMs: number): Promise<StoredVersion[]> {
      const rows = await db.query({
        queryId: 'backfill.stored_versions',
        sql: `SELECT tenant_id, currency, toUnixTimestamp(window_start) * 1000 AS window_start_ms, revision, final, toString(version) AS version,
                     last_event_at_ms, source
              FROM windows FINAL WHERE window_start >= {from:DateTime('UTC')} AND window_start < {to:DateTime('UTC')}`,
        params: { from: toSeconds(fromMs), to: toSeconds(toMs) },
        row: storedRow,
      });
      return rows.map((r) => ({
        tenantId: r.tenant_id,
        currency: r.currency,
        windowStart: r.window_start_ms,
        revision: r.revision,
        final: r.final === 1,
        events: Number(r.version % BigInt(REVISION_UNIT)),
        lastEventAt: r.last_event_at_ms,
        source: r.source,
      }));
    },
  };
}

export type BackfillStore = ReturnType<typeof createBackfillStore>;

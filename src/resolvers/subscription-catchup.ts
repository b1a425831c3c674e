/**
 * Catch-ups from storage for the subscription hub: a resumed subscription's history,
 * and — after a gap in the bus's delivery — every affected subscription's missed windows.
 *
 * While a catch-up runs its members hold live updates (subscription-member.ts); when the
 * read returns, each member is sent the windows it does not have yet (judged by what was
 * sent to that member, nothing else), then what it held. The worker writes a window
 * before publishing it, so a read can return a revision whose live update is still held:
 * the member is sent it once, from storage, and skips the held copy.
 */
import { GraphQLError } from 'graphql';
import type { BusCell } from '../contracts/window.ts';
import type { ModelPlan } from '../model/types.ts';
import type { Logger } from '../observability/logger.ts';
import type { BusGap, Unsubscribe, UpdateBus } from '../realtime/bus.ts';
import type { MetricCellsReader } from '../storage/metric-window-cells.ts';
import type { ChangedWindow, WindowChangesReader } from '../storage/window-changes.ts';
import type { FreshnessTracker } from './freshness.ts';
import type { HubMetrics } from './hub-metrics.ts';
import { createReplayLoader, type ReplayBatch } from './subscription-catchup-reads.ts';
import type { Member, WindowValues } from './subscription-member.ts';
import { bundleValues, byMinute, crossLeaves, mergedValues } from './subscription-merged.ts';
import { legacyCells, windowMetaOf } from './window-values.ts';
import { windowKey } from './windows-stream.ts';

/**
 * Resume reads start this much before `since`: `since` comes from the aggregator's
 * clock, `written_at` from ClickHouse's. Re-sent windows are harmless (same revision).
 */
export const RESUME_OVERLAP_MS = 10_000;
/** Windows a catch-up may send at most (beyond: RESUME_TOO_LARGE, the client re-queries). */
const MAX_RESUME_ROWS = 5_000;

/** resume: a subscription with `since`; restored/dropped: a bus gap (see BusGap); subscribed: the bus subscription of a tenant took effect. */
export type CatchUpReason = 'resume' | 'restored' | 'dropped' | 'subscribed';

/** Test hooks, passed in by whoever builds the hub (never set in production). */
export interface CatchUpHooks {
  /** Runs after the members began holding live updates and before storage is read: a slow read is where live updates pile up. */
  beforeRead?(o: { tenantId: string; reason: CatchUpReason }): Promise<void>;
}

export function createCatchUps(deps: {
  reader: WindowChangesReader;
  plan: ModelPlan;
  /** The model's stored cells; absent: windows are caught up from their wide rows only (legacyCells). */
  cells?: MetricCellsReader;
  freshness: FreshnessTracker;
  logger: Logger;
  metrics: HubMetrics;
  hooks?: CatchUpHooks;
}) {
  const { freshness, logger, metrics, plan } = deps;
  const replay = createReplayLoader({ reader: deps.reader, maxRows: MAX_RESUME_ROWS });

  /** The stored cells of the changed windows (by windowKey; a window absent has none stored) and their merged minutes. */
  async function loadCells(tenantId: string, rows: readonly ChangedWindow[], members: readonly Member[]) {
    const perSlice = new Map<string, BusCell[]>();
    const reader = deps.cells;
    if (!reader || rows.length === 0) return { perSlice, minutes: [] };
    const minutes = [...new Set(rows.map((r) => r.windowStart))];
    const sliceLeaves = new Map<string, { metric: string; version: number; distinct: boolean }>();
    for (const m of members) for (const t of m.selection?.targets ?? []) if (!t.crossCurrency) for (const l of t.leaves) sliceLeaves.set(l.id, { metric: l.name, version: l.version, distinct: l.kind === 'distinct' });
    const cross = crossLeaves(members);
    const [slices, merged] = await Promise.all([
      sliceLeaves.size > 0 ? reader.load({ tenantId, minutes, slices: [...new Set(rows.map((r) => r.currency))], measures: [...sliceLeaves.values()] }) : null,
      cross.length > 0 ? reader.load({ tenantId, minutes, slices: null, measures: cross }) : null,
    ]);
    for (const w of slices?.windows ?? []) perSlice.set(windowKey({ currency: w.slice, windowStart: w.windowStart }), []);
    for (const c of slices?.cells ?? []) perSlice.get(windowKey({ currency: c.slice, windowStart: c.windowStart }))?.push(c);
    return { perSlice, minutes: merged ? byMinute(merged) : [] };
  }

  /** Each member's windows: per changed base window (its stored cells, or its wide row's), then the merged minutes. */
  function windowsFor(tenantId: string, members: readonly Member[], rows: readonly ChangedWindow[], loaded: Awaited<ReturnType<typeof loadCells>>): Map<Member, WindowValues[]> {
    const out = new Map<Member, WindowValues[]>(members.map((m) => [m, []]));
    const fresh = freshness.of(tenantId);
    for (const row of rows) {
      const key = windowKey(row);
      const wanting = members.filter((m) => m.currency === null || m.currency === row.currency);
      const cells = loaded.perSlice.get(key) ?? legacyCells(plan, row);
      for (const { m, w } of bundleValues(plan, wanting, { key, crossCurrency: false, cells, meta: windowMetaOf(row, fresh, true) })) out.get(m)!.push(w);
    }
    for (const { m, w } of mergedValues(plan, members, loaded.minutes, { freshness: fresh, replayed: true })) out.get(m)!.push(w);
    return out;
  }

  return {
    /** Catches `members` of `tenantId` up with every window written since `since` (less the overlap). Never throws: a failure ends the members' streams with RESUME_FAILED. */
    async run(tenantId: string, members: readonly Member[], since: number, reason: CatchUpReason): Promise<void> {
      const from = since - RESUME_OVERLAP_MS;
      for (const m of members) m.beginCatchUp();
      let rows: ChangedWindow[];
      let loaded: Awaited<ReturnType<typeof loadCells>>;
      try {
        await deps.hooks?.beforeRead?.({ tenantId, reason });
        const batch: ReplayBatch = await replay.load(tenantId, from);
        // A shared read may have started earlier than this caller's `from`.
        rows = batch.rows.filter((row) => row.writtenAt >= from);
        loaded = await loadCells(tenantId, rows, members);
      } catch (err) {
        const error = err instanceof GraphQLError ? err : new GraphQLError('Catch-up failed', { extensions: { code: 'RESUME_FAILED' } });
        logger.warn({ tenantId, reason, err: error.message }, 'subscription catch-up failed');
        metrics.catchUps.inc({ reason, outcome: 'error' });
        for (const m of members) m.endCatchUp({ error });
        return;
      }
      metrics.catchUps.inc({ reason, outcome: 'ok' });
      const windows = windowsFor(tenantId, members, rows, loaded);
      for (const m of members) m.endCatchUp({ windows: windows.get(m)! });
    },
  };
}

export type CatchUps = ReturnType<typeof createCatchUps>;

/**
 * Catches the affected subscriptions up after every gap in the bus's delivery; returns
 * how to stop. `affected(tenantId)`: the window members of that tenant (null: of every tenant).
 *
 * Recovery after a Redis restart does not depend on the publishers' `dropped` markers
 * (published once, possibly before this replica resubscribed): `restored` re-reads
 * everything written since this replica's freshness when it lost its feed, and a
 * publisher writes before it publishes (its progress tick before its windows), so every
 * update it could not publish meanwhile is in that read. Markers cover the other case:
 * a publisher's publish failed while this replica stayed connected, so it receives them.
 */
export function catchUpOnGaps(o: {
  bus: UpdateBus;
  freshness: FreshnessTracker;
  catchUps: CatchUps;
  affected: (tenantId: string | null) => { tenantId: string; members: Member[] }[];
}): Unsubscribe {
  let lostSince: number | null = null;
  return o.bus.subscribeGaps((gap: BusGap) => {
    if (gap.kind === 'lost') {
      // Nothing arrives until `restored`; everything from here on must be re-read.
      lostSince ??= o.freshness.dataAsOf();
      return;
    }
    const since = gap.kind === 'dropped' ? gap.since : (lostSince ?? o.freshness.dataAsOf());
    if (gap.kind === 'restored') lostSince = null;
    for (const { tenantId, members } of o.affected(gap.kind === 'dropped' ? gap.tenantId : null)) {
      if (members.length > 0) void o.catchUps.run(tenantId, members, since, gap.kind);
    }
  });
}

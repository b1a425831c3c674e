/**
 * The window subscribers of one tenant in the subscription hub, and this process's bus
 * subscription for them (held while the tenant has window subscribers).
 *
 * Live fan-out happens once per bus message, not per subscriber: stale messages are
 * dropped by revision, each `MetricUpdate` is built once (per target, from the message's
 * cells: window-values.ts), and members asking the same (selection key) share one
 * `WindowValues`. Metrics whose `by` lacks currency are values of the whole minute, read
 * from storage once per delivery (subscription-merged.ts).
 *
 * A member that joins before the bus subscription took effect waits (`pending`) and
 * catches up from storage once it has, from where it joined (or from its `since`).
 */
import { performance } from 'node:perf_hooks';
import type { WindowUpdate } from '../contracts/window.ts';
import type { ModelPlan } from '../model/types.ts';
import type { Logger } from '../observability/logger.ts';
import type { Unsubscribe, UpdateBus } from '../realtime/bus.ts';
import type { FreshnessTracker } from './freshness.ts';
import type { HubMetrics } from './hub-metrics.ts';
import type { CatchUpReason, CatchUps } from './subscription-catchup.ts';
import type { Member } from './subscription-member.ts';
import type { MetricCellsReader } from '../storage/metric-window-cells.ts';
import { bundleValues, createMergedMinutes } from './subscription-merged.ts';
import { legacyCells, windowMetaOf } from './window-values.ts';
import { windowKey } from './windows-stream.ts';

/** Live revisions remembered per tenant to drop stale bus messages early (oldest forgotten first). */
const REVISIONS_PER_TENANT = 4_096;
/**
 * A subscriber that joined before the bus subscription took effect catches up from its
 * tenant's dataAsOf when it joined (every flush not yet published started after it), but
 * from no earlier than this before then (a source that stopped reporting holds dataAsOf back).
 */
const SUBSCRIBE_LOOKBACK_MS = 60_000;

export interface TenantWindowsDeps {
  bus: UpdateBus;
  freshness: FreshnessTracker;
  catchUps: CatchUps;
  metrics: HubMetrics;
  mode: 'shared' | 'per_subscriber';
  clock: () => number;
  plan: ModelPlan;
  /** Storage of the model's cells: metrics whose `by` lacks currency are read from it per minute (subscription-merged.ts). */
  cells: MetricCellsReader | undefined;
  logger: Logger;
}

export function createTenantWindows(tenantId: string, deps: TenantWindowsDeps) {
  const { bus, freshness, catchUps, metrics, mode, plan } = deps;
  /** Window subscribers by currency filter ('*' = every currency). */
  const byCurrency = new Map<string, Set<Member>>();
  /**
   * Newest revision per window received live from the bus. Only a filter for stale bus
   * messages (every current member was already offered something newer); what a member
   * skips is decided by what was sent to it.
   */
  const revisions = new Map<string, number>();
  /** The bus subscription to the tenant's window updates, while it has window subscribers. */
  let offWindows: Unsubscribe | null = null;
  /** Whether that subscription is in effect (the bus said so); until then joining members wait in `pending`. */
  let busActive = false;
  /** Counts bus subscriptions, so a late `onActive` of an earlier one is ignored. */
  let busGeneration = 0;
  /** Members that joined before the bus subscription took effect, with where their catch-up starts. */
  let pending: { m: Member; since: number; reason: CatchUpReason }[] = [];
  const members = (): Member[] => [...byCurrency.values()].flatMap((set) => [...set]);
  const merged = createMergedMinutes({ tenantId, plan, reader: deps.cells, freshness, logger: deps.logger, members });

  function onWindow(u: WindowUpdate): void {
    const key = windowKey(u);
    const prev = revisions.get(key);
    if (prev !== undefined && u.revision <= prev) return void metrics.staleDropped.inc();
    revisions.delete(key); // re-insert: Map order = least recently updated first
    revisions.set(key, u.revision);
    if (revisions.size > REVISIONS_PER_TENANT) revisions.delete(revisions.keys().next().value!);

    const started = performance.now();
    const meta = windowMetaOf(u, freshness.of(tenantId), false);
    const cells = u.cells ?? legacyCells(plan, u);
    const here = [...(byCurrency.get('*') ?? []), ...(byCurrency.get(u.currency) ?? [])];
    let count = 0;
    for (const { m, w } of bundleValues(plan, here, { key, crossCurrency: false, cells, meta })) {
      m.offer(w);
      count += w.values.length;
    }
    const cross = here.some((m) => m.selection!.targets.some((t) => t.crossCurrency));
    if (cross) merged.changed(u.windowStart);
    metrics.deliveries.inc({ topic: 'windows', mode }, count);
    metrics.fanoutSeconds.observe((performance.now() - started) / 1000);
  }

  /**
   * The bus subscription is in effect: everything published from now on arrives. What was
   * published between a pending member's joining and now is only in storage, so each
   * catches up from where it joined (or from its `since`), as a resume does.
   */
  function activate(): void {
    busActive = true;
    const waiting = pending;
    pending = [];
    for (const p of waiting) if (!p.m.stream.ended) void catchUps.run(tenantId, [p.m], p.since, p.reason);
  }

  return {
    /** Adds a windows member; subscribes to the bus for the tenant's first one. */
    add(m: Member): void {
      const filter = m.currency ?? '*';
      let set = byCurrency.get(filter);
      if (!set) byCurrency.set(filter, (set = new Set()));
      set.add(m);
      if (offWindows) return;
      busActive = false;
      const generation = ++busGeneration;
      // onActive may run before subscribeWindows returns (in-process bus: at once).
      offWindows = bus.subscribeWindows(tenantId, onWindow, () => {
        if (busGeneration === generation) activate();
      });
    },

    /** Starts a member's catch-up now (`since`), or once the bus subscription is in effect. */
    start(m: Member, since: number | null): void {
      if (busActive) {
        if (since !== null) void catchUps.run(tenantId, [m], since, 'resume');
        return;
      }
      const joinedAt = Math.max(freshness.dataAsOf(), deps.clock() - SUBSCRIBE_LOOKBACK_MS);
      pending.push(since !== null ? { m, since, reason: 'resume' } : { m, since: joinedAt, reason: 'subscribed' });
    },

    /** Removes a windows member; drops the bus subscription with the tenant's last one. */
    remove(m: Member): void {
      const filter = m.currency ?? '*';
      const set = byCurrency.get(filter);
      set?.delete(m);
      if (set?.size === 0) byCurrency.delete(filter);
      if (byCurrency.size > 0) return;
      offWindows?.();
      offWindows = null;
      busActive = false;
      busGeneration += 1;
      pending = [];
    },

    members,
  };
}

export type TenantWindows = ReturnType<typeof createTenantWindows>;

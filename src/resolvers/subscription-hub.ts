/**
 * Local fan-out of the bus to GraphQL subscriptions (`windows`, `freshness`).
 *
 * Once per bus message, not per subscriber: one bus subscription per tenant, the
 * message validated once (by the bus), the freshness computed once, each
 * `MetricUpdate` built once, and — for websocket subscribers in `shared` mode —
 * executed and serialised once per group of identical selections (by the
 * connection's transport: src/app/ws/frames.ts).
 * Per subscriber there is only the filter (currency, metrics) and a socket write.
 *
 * Resume: a subscription with `since` first gets every window changed since then,
 * from storage, then live updates (held meanwhile, and de-duplicated by revision).
 * When the bus reports a gap (Redis lost/restored, a publisher dropped messages) every
 * affected subscription catches up the same way (subscription-catchup.ts), so a
 * subscriber's final state equals the database's. Revisions per window never go
 * backwards on a subscription, and each subscription judges what it already has by
 * what was sent to it (subscription-member.ts).
 *
 * Limits: at most `maxSubscriptionsPerTenant` open subscriptions per tenant; a
 * subscriber that cannot keep up loses its connection (shared mode: the transport's
 * unsent-bytes limit; per-subscriber mode, or held during a catch-up: `MAX_QUEUE` values).
 */
import { performance } from 'node:perf_hooks';
import { GraphQLError, type GraphQLResolveInfo } from 'graphql';
import type { Registry } from 'prom-client';
import { METRICS, type Metric } from '../contracts/metrics.ts';
import type { WindowUpdate } from '../contracts/window.ts';
import type { Logger } from '../observability/logger.ts';
import type { BusGap, Unsubscribe, UpdateBus } from '../realtime/bus.ts';
import type { WindowChangesReader } from '../storage/window-changes.ts';
import type { SubscriptionConnection } from './connection.ts';
import type { Freshness, FreshnessTracker } from './freshness.ts';
import { createHubMetrics } from './hub-metrics.ts';
import { createCatchUps, type CatchUpHooks } from './subscription-catchup.ts';
import { createFreshnessPushes } from './subscription-freshness.ts';
import { createSinks } from './subscription-sinks.ts';
import { MAX_QUEUE, createMember, type Member, type Topic, type Value, type WindowValues } from './subscription-member.ts';
import { createStream, toMetricUpdate, windowKey, type MetricUpdate } from './windows-stream.ts';

export { RESUME_OVERLAP_MS } from './subscription-catchup.ts';

export interface HubLimits {
  maxSubscriptionsPerTenant: number;
  heartbeatIntervalMs: number;
  fanout: 'shared' | 'per-subscriber';
}

/** Live revisions remembered per tenant to drop stale bus messages early (oldest forgotten first). */
const REVISIONS_PER_TENANT = 4_096;
/**
 * A subscriber that joined before the bus subscription took effect catches up from its
 * tenant's dataAsOf when it joined (every flush not yet published started after it), but
 * from no earlier than this before then (a source that stopped reporting holds dataAsOf back).
 */
const SUBSCRIBE_LOOKBACK_MS = 60_000;

interface TenantState {
  id: string;
  /** Window subscribers by currency filter ('*' = every currency). */
  byCurrency: Map<string, Set<Member>>;
  /** Subscriptions of either topic (the tenant cap counts both). */
  size: number;
  /**
   * Newest revision per window received live from the bus. Only a filter for stale bus
   * messages (every current member was already offered something newer); what a member
   * skips is decided by what was sent to it.
   */
  revisions: Map<string, number>;
  /** This process's bus subscription to the tenant's window updates, while it has window subscribers. */
  offWindows: Unsubscribe | null;
  /** Whether that subscription is in effect (the bus said so); until then joining members wait in `pending`. */
  busActive: boolean;
  /** Counts bus subscriptions, so a late `onActive` of an earlier one is ignored. */
  busGeneration: number;
  /** Members that joined before the bus subscription took effect, with where their catch-up starts. */
  pending: { m: Member; since: number; reason: 'resume' | 'subscribed' }[];
}

interface OpenOptions {
  topic: Topic;
  tenantId: string;
  /** windows only; all metrics when empty. */
  metrics: readonly Metric[];
  currency: string | null;
  /** windows only: resume from this instant (epoch ms). */
  since: number | null;
  connection?: SubscriptionConnection;
  info: GraphQLResolveInfo;
  contextValue: unknown;
  onOpen?: () => void;
  onClose?: () => void;
}

export function createSubscriptionHub(deps: {
  bus: UpdateBus;
  freshness: FreshnessTracker;
  changes: WindowChangesReader;
  logger: Logger;
  limits: HubLimits;
  registry?: Registry;
  /** Default Date.now. */
  clock?: () => number;
  /** Tests only (subscription-catchup.ts). */
  hooks?: CatchUpHooks;
}) {
  const { bus, freshness, logger, limits } = deps;
  const clock = deps.clock ?? Date.now;
  const metrics = createHubMetrics(deps.registry);
  const catchUps = createCatchUps({ reader: deps.changes, freshness, logger, metrics, hooks: deps.hooks });
  const tenants = new Map<string, TenantState>();
  const mode = limits.fanout === 'shared' ? 'shared' : 'per_subscriber';
  const sinks = createSinks({ mode, metrics, logger });
  const pushes = createFreshnessPushes({ freshness, heartbeatIntervalMs: limits.heartbeatIntervalMs, onDelivered: (n) => metrics.deliveries.inc({ topic: 'freshness', mode }, n) });

  // ---- live window updates ---------------------------------------------------------

  function onWindow(t: TenantState, u: WindowUpdate): void {
    const key = windowKey(u);
    const prev = t.revisions.get(key);
    if (prev !== undefined && u.revision <= prev) return void metrics.staleDropped.inc();
    t.revisions.delete(key); // re-insert: Map order = least recently updated first
    t.revisions.set(key, u.revision);
    if (t.revisions.size > REVISIONS_PER_TENANT) t.revisions.delete(t.revisions.keys().next().value!);

    const started = performance.now();
    const fresh = freshness.of(t.id);
    const built: Partial<Record<Metric, MetricUpdate>> = {};
    // Members asking for the same metrics share one WindowValues (and every member the same MetricUpdates).
    const bundles = new Map<readonly Metric[], WindowValues>();
    let count = 0;
    for (const set of [t.byCurrency.get('*'), t.byCurrency.get(u.currency)]) {
      if (!set) continue;
      for (const m of set) {
        let w = bundles.get(m.metrics);
        if (!w) bundles.set(m.metrics, (w = { key, revision: u.revision, values: m.metrics.map((metric) => (built[metric] ??= toMetricUpdate(u, metric, fresh, false))) }));
        m.offer(w);
        count += w.values.length;
      }
    }
    metrics.deliveries.inc({ topic: 'windows', mode }, count);
    metrics.fanoutSeconds.observe((performance.now() - started) / 1000);
  }

  // ---- gaps: catch up from storage -------------------------------------------------

  const windowMembers = (t: TenantState): Member[] => [...t.byCurrency.values()].flatMap((s) => [...s]);

  // Recovery after a Redis restart does not depend on the publishers' `dropped` markers
  // (published once, possibly before this replica resubscribed): `restored` re-reads
  // everything written since this replica's freshness when it lost its feed, and a
  // publisher writes before it publishes (its progress tick before its windows), so every
  // update it could not publish meanwhile is in that read. Markers cover the other case:
  // a publisher's publish failed while this replica stayed connected, so it receives them.
  let lostSince: number | null = null;
  const offGaps = bus.subscribeGaps((gap: BusGap) => {
    if (gap.kind === 'lost') {
      // Nothing arrives until `restored`; everything from here on must be re-read.
      lostSince ??= freshness.dataAsOf();
      return;
    }
    const since = gap.kind === 'dropped' ? gap.since : (lostSince ?? freshness.dataAsOf());
    if (gap.kind === 'restored') lostSince = null;
    const affected = gap.kind === 'dropped' ? [tenants.get(gap.tenantId)] : [...tenants.values()];
    for (const t of affected) {
      const members = t ? windowMembers(t) : [];
      if (t && members.length > 0) void catchUps.run(t.id, members, since, gap.kind);
    }
  });

  // ---- freshness pushes ------------------------------------------------------------

  const offProgress = bus.subscribeProgress((p) => {
    freshness.observeProgress(p); // idempotent; the tracker may not have seen this tick yet
    pushes.progressed();
  });

  // ---- membership ------------------------------------------------------------------

  function join(t: TenantState, m: Member): void {
    t.size += 1;
    if (m.topic === 'freshness') return pushes.add(m);
    const filter = m.currency ?? '*';
    let set = t.byCurrency.get(filter);
    if (!set) t.byCurrency.set(filter, (set = new Set()));
    set.add(m);
    if (!t.offWindows) {
      t.busActive = false;
      const generation = ++t.busGeneration;
      // onActive may run before subscribeWindows returns (in-process bus: at once).
      t.offWindows = bus.subscribeWindows(
        t.id,
        (u) => onWindow(t, u),
        () => {
          if (t.busGeneration === generation) activate(t);
        },
      );
    }
  }

  /**
   * The tenant's bus subscription is in effect: everything published from now on arrives.
   * What was published between a pending member's joining and now is only in storage, so
   * each catches up from where it joined (or from its `since`), as a resume does.
   */
  function activate(t: TenantState): void {
    t.busActive = true;
    const pending = t.pending;
    t.pending = [];
    for (const p of pending) if (!p.m.stream.ended) void catchUps.run(t.id, [p.m], p.since, p.reason);
  }

  /** Starts a windows member's catch-up now (`since`), or once the tenant's bus subscription is in effect. */
  function startWindows(t: TenantState, m: Member, since: number | null): void {
    if (t.busActive) {
      if (since !== null) void catchUps.run(t.id, [m], since, 'resume');
      return;
    }
    const joinedAt = Math.max(freshness.dataAsOf(), clock() - SUBSCRIBE_LOOKBACK_MS);
    t.pending.push(since !== null ? { m, since, reason: 'resume' } : { m, since: joinedAt, reason: 'subscribed' });
  }

  function leave(t: TenantState, m: Member): void {
    t.size -= 1;
    m.release();
    if (m.topic === 'freshness') pushes.remove(m);
    else {
      const filter = m.currency ?? '*';
      const set = t.byCurrency.get(filter);
      set?.delete(m);
      if (set?.size === 0) t.byCurrency.delete(filter);
      if (t.byCurrency.size === 0) {
        t.offWindows?.();
        t.offWindows = null;
        t.busActive = false;
        t.busGeneration += 1;
        t.pending = [];
      }
    }
    if (t.size === 0 && tenants.get(t.id) === t) tenants.delete(t.id);
  }

  /** Opens a subscription; throws TOO_MANY_SUBSCRIPTIONS over the tenant's cap. */
  function open(o: OpenOptions): AsyncIterableIterator<Value> {
    let t = tenants.get(o.tenantId);
    if ((t?.size ?? 0) >= limits.maxSubscriptionsPerTenant) {
      metrics.rejected.inc({ reason: 'tenant_cap' });
      throw new GraphQLError(`This tenant already has ${limits.maxSubscriptionsPerTenant} open subscriptions, the most allowed; close some first`, {
        extensions: { code: 'TOO_MANY_SUBSCRIPTIONS' },
      });
    }
    if (!t) {
      t = { id: o.tenantId, byCurrency: new Map(), size: 0, revisions: new Map(), offWindows: null, busActive: false, busGeneration: 0, pending: [] };
      tenants.set(o.tenantId, t);
    }
    const stream = createStream<Value>({
      maxQueue: MAX_QUEUE,
      onEnd: () => {
        leave(t, m);
        o.onClose?.();
      },
    });
    const m: Member = createMember({
      topic: o.topic,
      tenantId: o.tenantId,
      metrics: o.metrics.length > 0 ? [...new Set(o.metrics)] : METRICS,
      currency: o.currency,
      connection: o.connection,
      stream,
      ...sinks.sinkFor(o, stream, () => sinks.dropSlow(m)),
      onSlow: () => sinks.dropSlow(m),
    });
    join(t, m);
    o.onOpen?.();
    if (o.topic === 'freshness') m.deliver(freshness.of(o.tenantId));
    if (o.topic === 'windows') startWindows(t, m, o.since);
    return m.stream.iterator;
  }

  type Common = Pick<OpenOptions, 'tenantId' | 'connection' | 'info' | 'contextValue' | 'onOpen' | 'onClose'>;
  return {
    /** Window updates of the tenant (resumed from `since` when given), one value per metric. */
    windows: (o: Common & Pick<OpenOptions, 'metrics' | 'currency' | 'since'>) =>
      open({ ...o, topic: 'windows' }) as AsyncIterableIterator<MetricUpdate>,
    /** The tenant's freshness now, when isStale flips, and every heartbeat interval. */
    freshness: (o: Common) => open({ ...o, topic: 'freshness', metrics: [], currency: null, since: null }) as AsyncIterableIterator<Freshness>,

    stats: () => ({ tenants: tenants.size, subscriptions: [...tenants.values()].reduce((s, t) => s + t.size, 0) }),

    close(): void {
      offGaps();
      offProgress();
      pushes.close();
    },
  };
}

export type SubscriptionHub = ReturnType<typeof createSubscriptionHub>;

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
 * affected subscription catches up the same way, so a subscriber's final state equals
 * the database's. Revisions per window never go backwards on a subscription.
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
import type { ChangedWindow, WindowChangesReader } from '../storage/window-changes.ts';
import type { SubscriptionConnection } from './connection.ts';
import type { Freshness, FreshnessTracker } from './freshness.ts';
import { createHubMetrics } from './hub-metrics.ts';
import { createReplayLoader, type ReplayBatch } from './replay.ts';
import { MAX_QUEUE, createMember, type Member, type Topic, type Value } from './subscription-member.ts';
import { createStream, slowConsumerError, toMetricUpdate, windowKey, type MetricUpdate } from './windows-stream.ts';

export interface HubLimits {
  maxSubscriptionsPerTenant: number;
  heartbeatIntervalMs: number;
  fanout: 'shared' | 'per-subscriber';
}

/**
 * Resume reads start this much before `since`: `since` comes from the aggregator's
 * clock, `written_at` from ClickHouse's. Re-sent windows are harmless (same revision).
 */
export const RESUME_OVERLAP_MS = 10_000;
/** Windows a catch-up may send at most (beyond: RESUME_TOO_LARGE, the client re-queries). */
const MAX_RESUME_ROWS = 5_000;
/** Revisions remembered per tenant to drop stale live updates (oldest forgotten first). */
const REVISIONS_PER_TENANT = 4_096;

interface TenantState {
  id: string;
  /** Window subscribers by currency filter ('*' = every currency). */
  byCurrency: Map<string, Set<Member>>;
  freshness: Set<Member>;
  size: number;
  /** Newest live revision delivered per window. */
  revisions: Map<string, number>;
  lastStale: boolean | null;
  offWindows: Unsubscribe | null;
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
}) {
  const { bus, freshness, logger, limits } = deps;
  const metrics = createHubMetrics(deps.registry);
  const replay = createReplayLoader({ reader: deps.changes, maxRows: MAX_RESUME_ROWS });
  const tenants = new Map<string, TenantState>();
  const mode = limits.fanout === 'shared' ? 'shared' : 'per_subscriber';
  let freshnessMembers = 0;
  let heartbeat: NodeJS.Timeout | null = null;

  // ---- live window updates ---------------------------------------------------------

  function onWindow(t: TenantState, u: WindowUpdate): void {
    const key = windowKey(u);
    const prev = t.revisions.get(key);
    if (prev !== undefined && u.revision <= prev) return void metrics.staleDropped.inc();
    remember(t, key, u.revision);

    const started = performance.now();
    const fresh = freshness.of(t.id);
    const built: Partial<Record<Metric, MetricUpdate>> = {};
    let count = 0;
    for (const set of [t.byCurrency.get('*'), t.byCurrency.get(u.currency)]) {
      if (!set) continue;
      for (const m of set) {
        for (const metric of m.metrics) {
          m.offer((built[metric] ??= toMetricUpdate(u, metric, fresh, false)), key);
          count += 1;
        }
      }
    }
    metrics.deliveries.inc({ topic: 'windows', mode }, count);
    metrics.fanoutSeconds.observe((performance.now() - started) / 1000);
  }

  function remember(t: TenantState, key: string, revision: number): void {
    t.revisions.delete(key); // re-insert: Map order = least recently updated first
    t.revisions.set(key, revision);
    if (t.revisions.size > REVISIONS_PER_TENANT) t.revisions.delete(t.revisions.keys().next().value!);
  }

  /** A subscriber that cannot keep up loses its connection (its client reconnects and resumes), not just this subscription. */
  function dropSlow(m: Member): void {
    slowConnection(m.connection);
    m.connection?.drop();
    m.stream.fail(slowConsumerError());
  }

  function slowConnection(connection: SubscriptionConnection | undefined): void {
    metrics.slowConsumers.inc({ mode });
    logger.warn({ transport: connection ? 'websocket' : 'other' }, 'slow subscriber dropped');
  }

  /** Shared mode over a connection that shares frames: values go to it. Otherwise the stream yields values and graphql-ws executes them. */
  function sinkFor(o: OpenOptions, stream: Member['stream'], onSlow: () => void): Pick<Member, 'deliver' | 'release'> {
    const connection = o.connection;
    if (mode === 'shared' && connection) {
      const frames = connection.shareFrames({ tenantId: o.tenantId, info: o.info, contextValue: o.contextValue, onSlow: () => slowConnection(connection) });
      return {
        // Replayed windows are a catch-up burst: allowed above the slow-consumer limit until they drain.
        deliver: (v) => frames.send(v, 'replayed' in v && v.replayed),
        release: () => frames.release(),
      };
    }
    return {
      deliver: (v) => {
        if (!stream.push(v)) onSlow();
      },
      release: () => undefined,
    };
  }

  // ---- catch-up from storage -------------------------------------------------------

  const replayed = new WeakMap<ChangedWindow, Partial<Record<Metric, MetricUpdate>>>();
  function replayedUpdate(row: ChangedWindow, metric: Metric): MetricUpdate {
    let byMetric = replayed.get(row);
    if (!byMetric) replayed.set(row, (byMetric = {}));
    return (byMetric[metric] ??= toMetricUpdate(row, metric, freshness.of(row.tenantId), true));
  }

  async function catchUp(t: TenantState, members: Member[], since: number, reason: 'resume' | 'restored' | 'dropped'): Promise<void> {
    const from = since - RESUME_OVERLAP_MS;
    for (const m of members) m.beginCatchUp();
    let batch: ReplayBatch;
    try {
      batch = await replay.load(t.id, from);
    } catch (err) {
      const error = err instanceof GraphQLError ? err : new GraphQLError('Catch-up failed', { extensions: { code: 'RESUME_FAILED' } });
      logger.warn({ tenantId: t.id, reason, err: error.message }, 'subscription catch-up failed');
      metrics.catchUps.inc({ reason, outcome: 'error' });
      for (const m of members) m.endCatchUp({ error });
      return;
    }
    metrics.catchUps.inc({ reason, outcome: 'ok' });
    // A tenant-wide catch-up (after a gap) reaches every subscriber the live updates
    // reached: skip what was delivered live already, and count what it sends as
    // delivered. A resume is one subscriber's history and leaves the tenant's record alone.
    const rows = batch.rows.filter((row) => {
      if (row.writtenAt < from) return false;
      if (reason === 'resume') return true;
      const key = windowKey(row);
      if (row.revision <= (t.revisions.get(key) ?? 0)) return false;
      remember(t, key, row.revision);
      return true;
    });
    for (const m of members) {
      const values = rows.filter((r) => m.currency === null || r.currency === m.currency).flatMap((r) => m.metrics.map((metric) => replayedUpdate(r, metric)));
      m.endCatchUp({ values, revisions: batch.revisions });
    }
  }

  const windowMembers = (t: TenantState): Member[] => [...t.byCurrency.values()].flatMap((s) => [...s]);

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
      if (t && members.length > 0) void catchUp(t, members, since, gap.kind);
    }
  });

  // ---- freshness pushes ------------------------------------------------------------

  /** `all`: a heartbeat to every freshness subscriber; otherwise only where isStale flipped. */
  function pushFreshness(all: boolean): void {
    for (const t of tenants.values()) {
      if (t.freshness.size === 0) continue;
      const f = freshness.of(t.id);
      if (!all && f.isStale === t.lastStale) continue;
      t.lastStale = f.isStale;
      for (const m of t.freshness) m.deliver(f);
      metrics.deliveries.inc({ topic: 'freshness', mode }, t.freshness.size);
    }
  }
  const offProgress = bus.subscribeProgress((p) => {
    freshness.observeProgress(p); // idempotent; the tracker may not have seen this tick yet
    pushFreshness(false);
  });

  // ---- membership ------------------------------------------------------------------

  function join(t: TenantState, m: Member): void {
    t.size += 1;
    if (m.topic === 'freshness') {
      t.freshness.add(m);
      if (freshnessMembers++ === 0) heartbeat = setInterval(() => pushFreshness(true), limits.heartbeatIntervalMs).unref();
      return;
    }
    const filter = m.currency ?? '*';
    let set = t.byCurrency.get(filter);
    if (!set) t.byCurrency.set(filter, (set = new Set()));
    set.add(m);
    t.offWindows ??= bus.subscribeWindows(t.id, (u) => onWindow(t, u));
  }

  function leave(t: TenantState, m: Member): void {
    t.size -= 1;
    m.release();
    if (m.topic === 'freshness') {
      t.freshness.delete(m);
      if (--freshnessMembers === 0 && heartbeat) clearInterval(heartbeat);
    } else {
      const filter = m.currency ?? '*';
      const set = t.byCurrency.get(filter);
      set?.delete(m);
      if (set?.size === 0) t.byCurrency.delete(filter);
      if (t.byCurrency.size === 0) {
        t.offWindows?.();
        t.offWindows = null;
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
      t = { id: o.tenantId, byCurrency: new Map(), freshness: new Set(), size: 0, revisions: new Map(), lastStale: null, offWindows: null };
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
      ...sinkFor(o, stream, () => dropSlow(m)),
      onSlow: () => dropSlow(m),
    });
    join(t, m);
    o.onOpen?.();
    if (o.topic === 'freshness') m.deliver(freshness.of(o.tenantId));
    if (o.topic === 'windows' && o.since !== null) void catchUp(t, [m], o.since, 'resume');
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
      if (heartbeat) clearInterval(heartbeat);
    },
  };
}

export type SubscriptionHub = ReturnType<typeof createSubscriptionHub>;

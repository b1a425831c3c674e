/**
 * Local fan-out of the bus to GraphQL subscriptions (`windows`, `freshness`).
 *
 * Once per bus message, not per subscriber: one bus subscription per tenant, the
 * message validated once (by the bus), the freshness computed once, each
 * `MetricUpdate` built once (subscription-tenant.ts), and — for websocket subscribers
 * in `shared` mode — executed and serialised once per group of identical selections
 * (by the connection's transport: src/app/ws/frames.ts).
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
import { GraphQLError, type GraphQLResolveInfo } from 'graphql';
import type { Registry } from 'prom-client';
import type { ModelPlan } from '../model/types.ts';
import type { Logger } from '../observability/logger.ts';
import type { UpdateBus } from '../realtime/bus.ts';
import type { MetricCellsReader } from '../storage/metric-window-cells.ts';
import type { WindowChangesReader } from '../storage/window-changes.ts';
import type { SubscriptionConnection } from './connection.ts';
import type { Freshness, FreshnessTracker } from './freshness.ts';
import { createHubMetrics } from './hub-metrics.ts';
import { catchUpOnGaps, createCatchUps, type CatchUpHooks } from './subscription-catchup.ts';
import { createFreshnessPushes } from './subscription-freshness.ts';
import { createSinks } from './subscription-sinks.ts';
import { MAX_QUEUE, createMember, type Member, type Topic, type Value } from './subscription-member.ts';
import { createTenantWindows, type TenantWindows, type TenantWindowsDeps } from './subscription-tenant.ts';
import { prepareWindowSelection, type SelectionArgs, type WindowSelection } from './window-selection.ts';
import { createStream, type MetricUpdate } from './windows-stream.ts';

export { RESUME_OVERLAP_MS } from './subscription-catchup.ts';

export interface HubLimits {
  maxSubscriptionsPerTenant: number;
  heartbeatIntervalMs: number;
  fanout: 'shared' | 'per-subscriber';
}

interface TenantState {
  id: string;
  /** Subscriptions of either topic (the tenant cap counts both). */
  size: number;
  windows: TenantWindows;
}

interface OpenOptions {
  topic: Topic;
  tenantId: string;
  /** windows only (window-selection.ts); null for freshness. */
  selection: WindowSelection | null;
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
  /** The model the selections were prepared with. */
  plan: ModelPlan;
  /** The model's stored cells (catch-ups; metrics whose `by` lacks currency). Absent (tests): catch-ups use the wide rows, and such metrics are refused. */
  cells?: MetricCellsReader;
  logger: Logger;
  limits: HubLimits;
  registry?: Registry;
  /** Default Date.now. */
  clock?: () => number;
  /** Tests only (subscription-catchup.ts). */
  hooks?: CatchUpHooks;
}) {
  const { bus, freshness, logger, limits } = deps;
  const metrics = createHubMetrics(deps.registry);
  const catchUps = createCatchUps({ reader: deps.changes, plan: deps.plan, cells: deps.cells, freshness, logger, metrics, hooks: deps.hooks });
  const tenants = new Map<string, TenantState>();
  const mode = limits.fanout === 'shared' ? 'shared' : 'per_subscriber';
  const sinks = createSinks({ mode, metrics, logger });
  const pushes = createFreshnessPushes({ freshness, heartbeatIntervalMs: limits.heartbeatIntervalMs, onDelivered: (n) => metrics.deliveries.inc({ topic: 'freshness', mode }, n) });

  const tenantDeps: TenantWindowsDeps = { bus, freshness, catchUps, metrics, mode, clock: deps.clock ?? Date.now, plan: deps.plan, cells: deps.cells, logger };

  const offGaps = catchUpOnGaps({
    bus,
    freshness,
    catchUps,
    // A `dropped` gap concerns one tenant, `restored` every tenant this process serves.
    affected: (tenantId) =>
      (tenantId === null ? [...tenants.values()] : [tenants.get(tenantId)]).flatMap((t) => (t ? [{ tenantId: t.id, members: t.windows.members() }] : [])),
  });

  const offProgress = bus.subscribeProgress((p) => {
    freshness.observeProgress(p); // idempotent; the tracker may not have seen this tick yet
    pushes.progressed();
  });

  function leave(t: TenantState, m: Member): void {
    t.size -= 1;
    m.release();
    if (m.topic === 'freshness') pushes.remove(m);
    else t.windows.remove(m);
    if (t.size === 0 && tenants.get(t.id) === t) tenants.delete(t.id);
  }

  /** Opens a subscription; throws TOO_MANY_SUBSCRIPTIONS over the tenant's cap. */
  function open(o: OpenOptions): AsyncIterableIterator<Value> {
    if (!deps.cells && o.selection?.targets.some((x) => x.crossCurrency)) {
      throw new GraphQLError('Metrics kept without currency cannot be live here: this server reads no model storage', { extensions: { code: 'BAD_USER_INPUT' } });
    }
    let t = tenants.get(o.tenantId);
    if ((t?.size ?? 0) >= limits.maxSubscriptionsPerTenant) {
      metrics.rejected.inc({ reason: 'tenant_cap' });
      throw new GraphQLError(`This tenant already has ${limits.maxSubscriptionsPerTenant} open subscriptions, the most allowed; close some first`, {
        extensions: { code: 'TOO_MANY_SUBSCRIPTIONS' },
      });
    }
    if (!t) {
      t = { id: o.tenantId, size: 0, windows: createTenantWindows(o.tenantId, tenantDeps) };
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
      selection: o.selection,
      connection: o.connection,
      stream,
      ...sinks.sinkFor(o, stream, () => sinks.dropSlow(m)),
      onSlow: () => sinks.dropSlow(m),
    });
    t.size += 1;
    if (o.topic === 'freshness') pushes.add(m);
    else t.windows.add(m);
    o.onOpen?.();
    if (o.topic === 'freshness') m.deliver(freshness.of(o.tenantId));
    else t.windows.start(m, o.since);
    return m.stream.iterator;
  }

  type Common = Pick<OpenOptions, 'tenantId' | 'connection' | 'info' | 'contextValue' | 'onOpen' | 'onClose'>;
  return {
    /** Window updates of the tenant (resumed from `since` when given), one value per metric and slice. */
    windows: (o: Common & SelectionArgs & { since: number | null }) =>
      open({ ...o, topic: 'windows', selection: prepareWindowSelection(deps.plan, o) }) as AsyncIterableIterator<MetricUpdate>,
    /** The tenant's freshness now, when isStale flips, and every heartbeat interval. */
    freshness: (o: Common) => open({ ...o, topic: 'freshness', selection: null, since: null }) as AsyncIterableIterator<Freshness>,

    stats: () => ({ tenants: tenants.size, subscriptions: [...tenants.values()].reduce((s, t) => s + t.size, 0) }),

    close(): void {
      offGaps();
      offProgress();
      pushes.close();
    },
  };
}

export type SubscriptionHub = ReturnType<typeof createSubscriptionHub>;

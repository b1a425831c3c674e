/**
 * The `windows` subscription: window updates of the caller's tenant from the bus,
 * one message per requested metric, with the freshness at delivery. A subscriber
 * that falls `maxQueue` messages behind is ended with an error instead of being
 * buffered forever.
 */
import { GraphQLError } from 'graphql';
import type { Metric } from '../contracts/metrics.ts';
import { METRICS } from '../contracts/metrics.ts';
import type { UpdateKind, WindowUpdate } from '../contracts/window.ts';
import type { UpdateBus } from '../realtime/bus.ts';
import type { Freshness, FreshnessTracker } from './freshness.ts';

export interface MetricUpdate {
  metric: Metric;
  currency: string;
  windowStart: number;
  windowEnd: number;
  value: string;
  final: boolean;
  revision: number;
  kind: UpdateKind;
  traceIds: string[];
  freshness: Freshness;
}

const METRIC_VALUE: Record<Metric, (u: WindowUpdate) => string> = {
  REVENUE: (u) => u.revenue,
  PURCHASES: (u) => String(u.purchases),
  SIGNUPS: (u) => String(u.signups),
  UPGRADES: (u) => String(u.upgrades),
  CHURNS: (u) => String(u.churns),
  ACTIVE_USERS: (u) => String(u.activeUsers),
};

export function expandUpdate(u: WindowUpdate, metrics: readonly Metric[], freshness: Freshness): MetricUpdate[] {
  return metrics.map((metric) => ({
    metric,
    currency: u.currency,
    windowStart: u.windowStart,
    windowEnd: u.windowEnd,
    value: METRIC_VALUE[metric](u),
    final: u.final,
    revision: u.revision,
    kind: u.kind,
    traceIds: u.traceSample,
    freshness,
  }));
}

export function subscribeWindowUpdates(deps: {
  bus: UpdateBus;
  freshness: FreshnessTracker;
  tenantId: string;
  metrics: readonly Metric[] | null;
  currency: string | null;
  maxQueue?: number;
  onOpen?: () => void;
  onClose?: () => void;
}): AsyncIterableIterator<MetricUpdate> {
  const metrics = deps.metrics?.length ? deps.metrics : METRICS;
  const maxQueue = deps.maxQueue ?? 10_000;
  const queue: MetricUpdate[] = [];
  let waiting: ((r: IteratorResult<MetricUpdate>) => void) | null = null;
  let failed: GraphQLError | null = null;
  let done = false;

  const unsubscribe = deps.bus.subscribeWindows(deps.tenantId, (u) => {
    if (done || (deps.currency !== null && u.currency !== deps.currency)) return;
    for (const m of expandUpdate(u, metrics, deps.freshness.of(deps.tenantId))) {
      if (waiting) {
        const w = waiting;
        waiting = null;
        w({ value: m, done: false });
      } else if (queue.length >= maxQueue) {
        failed = new GraphQLError('Subscriber too slow: updates were dropped; resubscribe and re-query', { extensions: { code: 'SLOW_CONSUMER' } });
        finish();
        return;
      } else queue.push(m);
    }
  });
  deps.onOpen?.();

  function finish(): void {
    if (done) return;
    done = true;
    unsubscribe();
    deps.onClose?.();
    if (waiting && !failed) waiting({ value: undefined, done: true });
  }

  const iterator: AsyncIterableIterator<MetricUpdate> = {
    next() {
      const value = queue.shift();
      if (value) return Promise.resolve({ value, done: false });
      if (failed) return Promise.reject(failed);
      if (done) return Promise.resolve({ value: undefined, done: true });
      return new Promise((resolve) => (waiting = resolve));
    },
    return() {
      finish();
      queue.length = 0;
      return Promise.resolve({ value: undefined, done: true });
    },
    [Symbol.asyncIterator]() {
      return iterator;
    },
  };
  return iterator;
}

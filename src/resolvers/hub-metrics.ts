/** Metrics of the subscription hub, on the app's registry (labels come from code only). */
import { Counter, Histogram, Registry } from 'prom-client';

export function createHubMetrics(registry: Registry = new Registry()) {
  const registers = [registry];
  return {
    deliveries: new Counter({
      name: 'tilecast_subscription_deliveries_total',
      help: 'Values handed to subscriptions, by topic (windows|freshness) and fan-out mode (shared|per_subscriber)',
      labelNames: ['topic', 'mode'] as const,
      registers,
    }),
    fanoutSeconds: new Histogram({
      name: 'tilecast_subscription_fanout_seconds',
      help: 'Time to fan one bus window message out to every local subscriber of its tenant',
      buckets: [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1],
      registers,
    }),
    rejected: new Counter({
      name: 'tilecast_subscriptions_rejected_total',
      help: 'Subscriptions refused, by reason (tenant_cap)',
      labelNames: ['reason'] as const,
      registers,
    }),
    slowConsumers: new Counter({
      name: 'tilecast_slow_consumers_dropped_total',
      help: 'Subscribers dropped because they could not keep up, by fan-out mode',
      labelNames: ['mode'] as const,
      registers,
    }),
    staleDropped: new Counter({
      name: 'tilecast_stale_window_updates_dropped_total',
      help: 'Bus window updates not delivered because a newer revision of the window was already delivered',
      registers,
    }),
    catchUps: new Counter({
      name: 'tilecast_subscription_catchups_total',
      help: 'Catch-up reads from storage, by reason (resume|restored|dropped|subscribed) and outcome (ok|error)',
      labelNames: ['reason', 'outcome'] as const,
      registers,
    }),
  };
}

export type HubMetrics = ReturnType<typeof createHubMetrics>;

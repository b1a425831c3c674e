/**
 * One open subscription inside the subscription hub: its filter, where its values go,
 * and the catch-up bookkeeping that keeps its revisions per window from repeating or
 * going backwards when storage and live updates overlap.
 */
import { performance } from 'node:perf_hooks';
import type { GraphQLError } from 'graphql';
import type { Metric } from '../contracts/metrics.ts';
import type { SubscriptionConnection } from './connection.ts';
import type { Freshness } from './freshness.ts';
import type { MetricUpdate, Stream } from './windows-stream.ts';

export type Topic = 'windows' | 'freshness';
export type Value = MetricUpdate | Freshness;

/** Values queued per subscription (per-subscriber mode, or held during a catch-up). */
export const MAX_QUEUE = 10_000;
/** How long revisions sent from storage keep filtering late live duplicates. */
const FLOOR_TTL_MS = 30_000;

export type CatchUpResult = { values: readonly MetricUpdate[]; revisions: ReadonlyMap<string, number> } | { error: GraphQLError };

export function createMember(o: {
  topic: Topic;
  tenantId: string;
  /** windows only: the metrics it wants (never empty). */
  metrics: readonly Metric[];
  currency: string | null;
  connection: SubscriptionConnection | undefined;
  stream: Stream<Value>;
  deliver(value: Value): void;
  release(): void;
  /** It fell MAX_QUEUE behind. */
  onSlow(): void;
}) {
  let catchingUp = 0;
  let held: { update: MetricUpdate; key: string }[] = [];
  let floors: ReadonlyMap<string, number>[] = [];
  let floorsUntil = 0;

  /** A live update: held while a catch-up runs; skipped if storage already sent this revision or a newer one. */
  function offer(update: MetricUpdate, key: string): void {
    if (o.stream.ended) return;
    if (catchingUp > 0) {
      if (held.length < MAX_QUEUE) held.push({ update, key });
      else o.onSlow();
      return;
    }
    if (floors.length > 0) {
      if (performance.now() > floorsUntil) floors = [];
      else if (floors.some((f) => (f.get(key) ?? -1) >= update.revision)) return;
    }
    o.deliver(update);
  }

  return {
    topic: o.topic,
    tenantId: o.tenantId,
    metrics: o.metrics,
    currency: o.currency,
    connection: o.connection,
    stream: o.stream,
    deliver: o.deliver,
    release: o.release,
    offer,
    beginCatchUp(): void {
      catchingUp += 1;
    },
    /** Sends what storage returned, then what was held meanwhile (minus what storage covered). */
    endCatchUp(result: CatchUpResult): void {
      catchingUp -= 1;
      if (o.stream.ended) return;
      if ('error' in result) return o.stream.fail(result.error);
      for (const v of result.values) o.deliver(v);
      floors.push(result.revisions);
      floorsUntil = performance.now() + FLOOR_TTL_MS;
      if (catchingUp > 0) return;
      const release = held;
      held = [];
      for (const h of release) offer(h.update, h.key);
    },
  };
}

export type Member = ReturnType<typeof createMember>;

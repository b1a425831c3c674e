/**
 * The live subscriptions: `windows` (window updates, resumable with `since`) and
 * `freshness` (heartbeats, so a tile can tell "live, nothing new" from "stale").
 * The contract for frontend authors is docs/subscriptions.md.
 */
import { GraphQLError } from 'graphql';
import { METRICS, type Metric } from '../contracts/metrics.ts';
import { authorize } from '../resolvers/context.ts';
import type { MetricUpdate } from '../resolvers/windows-stream.ts';
import type { Builder } from './builder.ts';
import type { addEnums } from './enums.ts';
import type { addFreshness } from './freshness.ts';

/** The window metrics a subscription asks for (the Metric enum resolves to model names; windows carry the stored ones). */
function windowMetrics(names: readonly string[]): Metric[] {
  return names.map((name) => {
    const m = METRICS.find((x) => x === name.toUpperCase());
    if (!m) throw new GraphQLError(`${name.toUpperCase()} has no live window updates: subscribe to the metrics it is computed from`, { extensions: { code: 'BAD_USER_INPUT' } });
    return m;
  });
}

export function addWindowUpdates(builder: Builder, { MetricEnum, UpdateKindEnum }: ReturnType<typeof addEnums>, FreshnessRef: ReturnType<typeof addFreshness>) {
  const WindowUpdateRef = builder.objectRef<MetricUpdate>('WindowUpdate').implement({
    description: 'A one-minute window of one metric changed. Revisions increase per window.',
    fields: (t) => ({
      metric: t.field({ type: MetricEnum, resolve: (u) => u.metric.toLowerCase() }),
      currency: t.exposeString('currency'),
      windowStart: t.field({ type: 'DateTime', resolve: (u) => u.windowStart }),
      windowEnd: t.field({ type: 'DateTime', resolve: (u) => u.windowEnd }),
      value: t.field({ type: 'Decimal', resolve: (u) => u.value }),
      final: t.exposeBoolean('final'),
      revision: t.exposeInt('revision', { description: 'Per window; keep the highest you have seen and ignore anything not higher.' }),
      kind: t.field({ type: UpdateKindEnum, resolve: (u) => u.kind }),
      traceIds: t.exposeStringList('traceIds'),
      freshness: t.field({
        type: FreshnessRef,
        description: 'At delivery. Remember dataAsOf of the last message: it is where to resume (`since`) after a disconnect.',
        resolve: (u) => u.freshness,
      }),
      replayed: t.exposeBoolean('replayed', {
        description:
          'True when sent from storage (the start of a resumed subscription, or the server catching up after losing its live feed) rather than live. ' +
          'Such a message carries the window’s current revision; its kind is PARTIAL or FINAL (a correction shows as FINAL with a higher revision).',
      }),
    }),
  });

  builder.subscriptionField('windows', (t) =>
    t.field({
      type: WindowUpdateRef,
      description:
        'Changes of the caller’s one-minute windows, one message per metric, in revision order per window. ' +
        'After a disconnect, subscribe again with `since` to receive what was missed, then live updates (docs/subscriptions.md).',
      args: {
        metrics: t.arg({ type: [MetricEnum], required: false, description: 'Omitted = all metrics.' }),
        currency: t.arg.string({ required: false, description: 'Omitted = all currencies.' }),
        since: t.arg({
          type: 'DateTime',
          required: false,
          description:
            'Resume: first every window (of this filter) changed at or after this instant, at its current revision (`replayed: true`), then live. ' +
            'Pass `freshness.dataAsOf` of the last message you received (window update or freshness heartbeat). Omitted = live only.',
        }),
      },
      subscribe: (_root, args, ctx, info) => {
        const { tenantId } = authorize(ctx, 'read');
        return ctx.services.subscriptions.windows({
          tenantId,
          metrics: windowMetrics(args.metrics ?? []),
          currency: args.currency ?? null,
          since: args.since ?? null,
          connection: ctx.connection,
          info,
          contextValue: ctx,
          onOpen: () => ctx.services.onSubscription(1),
          onClose: () => ctx.services.onSubscription(-1),
        });
      },
      resolve: (u) => u,
    }),
  );

  builder.subscriptionField('freshness', (t) =>
    t.field({
      type: FreshnessRef,
      description:
        'The caller’s freshness: at once, whenever isStale changes, and at least every HEARTBEAT_INTERVAL_MS (default 5 s). ' +
        'A heartbeat with isStale = false means "live, nothing new"; no heartbeat for two intervals means the connection is in trouble.',
      subscribe: (_root, _args, ctx, info) => {
        const { tenantId } = authorize(ctx, 'read');
        return ctx.services.subscriptions.freshness({
          tenantId,
          connection: ctx.connection,
          info,
          contextValue: ctx,
          onOpen: () => ctx.services.onSubscription(1),
          onClose: () => ctx.services.onSubscription(-1),
        });
      },
      resolve: (f) => f,
    }),
  );
}

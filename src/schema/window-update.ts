/**
 * The live subscriptions: `windows` (window updates, resumable with `since`) and
 * `freshness` (heartbeats, so a tile can tell "live, nothing new" from "stale").
 * The contract for frontend authors is docs/subscriptions.md.
 */
import type { InputObjectRef } from '@pothos/core';
import { authorize } from '../resolvers/context.ts';
import type { MetricUpdate } from '../resolvers/windows-stream.ts';
import type { Builder, Types } from './builder.ts';
import type { addEnums } from './enums.ts';
import type { addFreshness } from './freshness.ts';

interface FilterInput {
  dimension: string;
  in?: string[] | null;
  notIn?: string[] | null;
}

export function addWindowUpdates(
  builder: Builder,
  { MetricEnum, UpdateKindEnum }: ReturnType<typeof addEnums>,
  FreshnessRef: ReturnType<typeof addFreshness>,
  DimensionFilter: InputObjectRef<Types, FilterInput> | null,
) {
  const DimensionValueRef = builder.objectRef<MetricUpdate['dimensions'][number]>('DimensionValue').implement({
    description: 'One dimension of a slice.',
    fields: (t) => ({
      name: t.exposeString('name', { description: 'The dimension (the model’s name).' }),
      value: t.exposeString('value', { nullable: true, description: 'null: the events lacked the field; "other": values beyond the tenant’s budget.' }),
      other: t.exposeBoolean('other', { description: 'The folded slice of values beyond the tenant’s budget.' }),
    }),
  });

  const WindowUpdateRef = builder.objectRef<MetricUpdate>('WindowUpdate').implement({
    description: 'A one-minute window of one metric changed. Revisions increase per window.',
    fields: (t) => ({
      metric: t.field({ type: MetricEnum, resolve: (u) => u.metric }),
      version: t.exposeInt('version', { description: 'The metric version the value is of.' }),
      currency: t.exposeString('currency', {
        description: 'The currency of the window; "" for a metric whose `by` lacks currency (its value is of the whole minute, every currency merged).',
      }),
      dimensions: t.field({
        type: [DimensionValueRef],
        description: 'The slice: the values of the metric’s `by` dimensions, in `by` order (one update per slice that changed or exists in the window).',
        resolve: (u) => u.dimensions,
      }),
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
        metrics: t.arg({ type: [MetricEnum], required: false, description: 'Omitted = every stored metric (count, sum, distinct) the filter applies to; formulas only when named.' }),
        version: t.arg.int({ required: false, description: 'The version of every metric asked for; omitted = each one’s current version.' }),
        currency: t.arg.string({ required: false, description: 'Omitted = all currencies. Given: only metrics kept by currency, windows of that currency.' }),
        ...(DimensionFilter ? { where: t.arg({ type: [DimensionFilter], required: false, description: 'Only slices whose stored values pass (dimensions the metrics have in `by`).' }) } : {}),
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
        const where = ((args as { where?: FilterInput[] | null }).where ?? []).map((c) => ({ dimension: c.dimension, in: c.in ?? null, notIn: c.notIn ?? null }));
        return ctx.services.subscriptions.windows({
          tenantId,
          metrics: args.metrics ?? [],
          version: args.version ?? null,
          currency: args.currency ?? null,
          where,
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

import { authorize } from '../resolvers/context.ts';
import { subscribeWindowUpdates, type MetricUpdate } from '../resolvers/windows-stream.ts';
import { builder } from './builder.ts';
import { MetricEnum, UpdateKindEnum } from './enums.ts';
import { FreshnessRef } from './freshness.ts';
import './scalars.ts';

const WindowUpdateRef = builder.objectRef<MetricUpdate>('WindowUpdate').implement({
  description: 'A one-minute window of one metric changed. Revisions increase per window.',
  fields: (t) => ({
    metric: t.field({ type: MetricEnum, resolve: (u) => u.metric }),
    currency: t.exposeString('currency'),
    windowStart: t.field({ type: 'DateTime', resolve: (u) => u.windowStart }),
    windowEnd: t.field({ type: 'DateTime', resolve: (u) => u.windowEnd }),
    value: t.field({ type: 'Decimal', resolve: (u) => u.value }),
    final: t.exposeBoolean('final'),
    revision: t.exposeInt('revision'),
    kind: t.field({ type: UpdateKindEnum, resolve: (u) => u.kind }),
    traceIds: t.exposeStringList('traceIds'),
    freshness: t.field({ type: FreshnessRef, resolve: (u) => u.freshness }),
  }),
});

builder.subscriptionField('windows', (t) =>
  t.field({
    type: WindowUpdateRef,
    args: {
      metrics: t.arg({ type: [MetricEnum], required: false, description: 'Omitted = all metrics.' }),
      currency: t.arg.string({ required: false, description: 'Omitted = all currencies.' }),
    },
    subscribe: (_root, args, ctx) => {
      const { tenantId } = authorize(ctx, 'read');
      return subscribeWindowUpdates({
        bus: ctx.services.bus,
        freshness: ctx.services.freshness,
        tenantId,
        metrics: args.metrics ?? null,
        currency: args.currency ?? null,
        onOpen: () => ctx.services.onSubscription(1),
        onClose: () => ctx.services.onSubscription(-1),
      });
    },
    resolve: (u) => u,
  }),
);

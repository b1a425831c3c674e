import type { Freshness } from '../resolvers/freshness.ts';
import { authorize } from '../resolvers/context.ts';
import type { Builder } from './builder.ts';

export function addFreshness(builder: Builder) {
  const FreshnessRef = builder.objectRef<Freshness>('Freshness').implement({
    description: 'How current an answer is. dataAsOf: every event accepted before it is included.',
    fields: (t) => ({
      dataAsOf: t.field({ type: 'DateTime', resolve: (f) => f.dataAsOf }),
      lastEventAt: t.field({ type: 'DateTime', nullable: true, description: 'Newest event time seen for the tenant.', resolve: (f) => f.lastEventAt }),
      ageMs: t.exposeInt('ageMs', { description: 'now − dataAsOf' }),
      staleThresholdMs: t.exposeInt('staleThresholdMs'),
      isStale: t.exposeBoolean('isStale'),
    }),
  });

  builder.queryField('freshness', (t) =>
    t.field({
      type: FreshnessRef,
      description: 'Freshness of the caller’s tenant, without reading any data.',
      resolve: (_root, _args, ctx) => ctx.services.freshness.of(authorize(ctx, 'read').tenantId),
    }),
  );
  return FreshnessRef;
}

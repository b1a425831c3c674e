import type { MetricDefinition } from '../resolvers/catalog.ts';
import { listMetrics } from '../resolvers/catalog.ts';
import { authorize } from '../resolvers/context.ts';
import type { Builder } from './builder.ts';

export function addCatalog(builder: Builder) {
  const MetricDefinitionRef = builder.objectRef<MetricDefinition>('MetricDefinition').implement({
    description: 'What a metric means. A changed rule adds a new version; old versions stay listed (history: true).',
    fields: (t) => ({
      name: t.exposeString('name', { description: 'A Metric or DerivedMetric value.' }),
      version: t.exposeInt('version'),
      unit: t.exposeString('unit', { description: 'currency | count | users | currency per user' }),
      description: t.exposeString('description'),
      definition: t.exposeString('definition', { description: 'The exact rule.' }),
      derived: t.exposeBoolean('derived', { description: 'Computed at read time from other metrics.' }),
      effectiveFrom: t.exposeString('effectiveFrom', { description: 'UTC day (YYYY-MM-DD) this version took effect.' }),
      supersededOn: t.exposeString('supersededOn', { nullable: true, description: 'UTC day a later version replaced it; null = current.' }),
      current: t.boolean({ resolve: (d) => d.supersededOn === null }),
    }),
  });

  builder.queryField('metrics', (t) =>
    t.field({
      type: [MetricDefinitionRef],
      description: 'The metric catalog: the current definition of every metric, or with `history` every version.',
      args: { history: t.arg.boolean({ required: true, defaultValue: false }) },
      resolve: (_root, args, ctx) => {
        authorize(ctx, 'read');
        return listMetrics({ history: args.history });
      },
    }),
  );
}

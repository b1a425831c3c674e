import type { GraphQLResolveInfo } from 'graphql';
import type { MetricDefinition } from '../resolvers/catalog.ts';
import { listMetrics, withPublished } from '../resolvers/catalog.ts';
import { authorize } from '../resolvers/context.ts';
import type { Builder } from './builder.ts';

const PUBLISHED_FIELDS = new Set(['publishedDefinition', 'checksum', 'publishedAt']);

/** Whether the query selects a field read from storage (so a catalog without them reads nothing). */
const asksPublished = (info: GraphQLResolveInfo) =>
  info.fieldNodes.some((n) => n.selectionSet?.selections.some((s) => s.kind !== 'Field' || PUBLISHED_FIELDS.has(s.name.value)));

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
      publishedDefinition: t.string({
        nullable: true,
        description: 'The canonical rule as published in storage (a formula with its operands pinned, e.g. `revenue@1 / active_users@1`); null until this version was published.',
        resolve: (d) => d.published?.definition ?? null,
      }),
      checksum: t.string({ nullable: true, description: 'sha256 of the published canonical definition; null until published.', resolve: (d) => d.published?.checksum ?? null }),
      publishedAt: t.field({
        type: 'DateTime',
        nullable: true,
        description: 'When this version was first published (`tilecast migrate` or a process start); null until published.',
        resolve: (d) => d.published?.publishedAtMs ?? null,
      }),
    }),
  });

  builder.queryField('metrics', (t) =>
    t.field({
      type: [MetricDefinitionRef],
      description: 'The metric catalog: the current definition of every metric, or with `history` every version.',
      args: { history: t.arg.boolean({ required: true, defaultValue: false }) },
      resolve: async (_root, args, ctx, info) => {
        authorize(ctx, 'read');
        const list = listMetrics({ history: args.history });
        return asksPublished(info) ? withPublished(list, await ctx.services.publishedDefinitions()) : list;
      },
    }),
  );
}

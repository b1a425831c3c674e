/** `Query.metrics`: the metric catalog of the model (src/resolvers/catalog.ts), every version with what it means and its backfill state. */
import type { GraphQLResolveInfo } from 'graphql';
import type { MetricDefinition } from '../resolvers/catalog.ts';
import { listMetrics, METRIC_KINDS, needsPublicationDates } from '../resolvers/catalog.ts';
import { authorize } from '../resolvers/context.ts';
import type { Builder } from './builder.ts';

const PUBLISHED_FIELDS = new Set(['publishedDefinition', 'checksum', 'publishedAt']);
const DATE_FIELDS = new Set(['effectiveFrom', 'supersededOn']);

/** Whether the query selects one of `fields` (a fragment counts as selecting everything), so a catalog without them reads nothing. */
const asks = (info: GraphQLResolveInfo, fields: ReadonlySet<string>) =>
  info.fieldNodes.some((n) => n.selectionSet?.selections.some((s) => s.kind !== 'Field' || fields.has(s.name.value)));

export function addCatalog(builder: Builder) {
  const MetricKindEnum = builder.enumType('MetricKind', {
    description: 'How a metric is computed: COUNT, SUM and DISTINCT are stored per event-time window; FORMULA is computed at read time from other metrics.',
    values: METRIC_KINDS,
  });

  const MetricDefinitionRef = builder.objectRef<MetricDefinition>('MetricDefinition').implement({
    description: 'What a metric means. A changed rule adds a new version; old versions stay listed (history: true).',
    fields: (t) => ({
      name: t.exposeString('name', { description: 'A Metric or DerivedMetric value.' }),
      version: t.exposeInt('version'),
      unit: t.exposeString('unit', { description: 'currency | count | users | currency per user' }),
      description: t.exposeString('description'),
      definition: t.exposeString('definition', { description: 'The exact rule.' }),
      kind: t.field({ type: MetricKindEnum, resolve: (d) => d.kind }),
      dimensions: t.stringList({
        description: 'The dimensions it can be filtered and broken down by (model names): a measure’s `by`; of a formula, those all its operands share.',
        resolve: (d) => [...d.dimensions],
      }),
      hidden: t.exposeBoolean('hidden', { description: 'Kept out of the metric enums: computed, usable as a formula operand, listed here.' }),
      derived: t.exposeBoolean('derived', { description: 'Computed at read time from other metrics.' }),
      effectiveFrom: t.exposeString('effectiveFrom', { description: 'UTC day (YYYY-MM-DD) this version took effect.' }),
      supersededOn: t.exposeString('supersededOn', { nullable: true, description: 'UTC day a later version replaced it; null = current.' }),
      current: t.exposeBoolean('current'),
      complete: t.boolean({
        description: 'False while a stored version it reads is still being backfilled from the event log (its answers say `complete: false` before incompleteBefore).',
        resolve: (d) => d.incompleteBefore === null,
      }),
      incompleteBefore: t.field({
        type: 'DateTime',
        nullable: true,
        description: 'The time before which its points are not yet backfilled; null = complete.',
        resolve: (d) => d.incompleteBefore,
      }),
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
        const { plan, coverage, clock } = ctx.services;
        const o = { history: args.history };
        const read = asks(info, PUBLISHED_FIELDS) || (asks(info, DATE_FIELDS) && needsPublicationDates(plan, o));
        return listMetrics({ plan, coverage, published: read ? await ctx.services.publishedDefinitions() : null, now: clock() }, o);
      },
    }),
  );
}

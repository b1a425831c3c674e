/**
 * The backfill coverage fields every series type has (Series, DerivedSeries, MetricSeries):
 * whether the metric versions it reads are backfilled over its range, and from when on.
 */
import type { ModelSeries } from '../resolvers/model-series.ts';
import type { Types } from './builder.ts';

export const coverageFields = (t: PothosSchemaTypes.ObjectFieldBuilder<Types, ModelSeries>) => ({
  complete: t.exposeBoolean('complete', {
    description: 'False while a metric version it reads is still being backfilled from the event log over this range: points before incompleteBefore are not yet data.',
  }),
  incompleteBefore: t.field({
    type: 'DateTime',
    nullable: true,
    description: 'The instant before which its points are not yet backfilled (history older than the event log stays incomplete for good); null when complete.',
    resolve: (s) => s.incompleteBefore,
  }),
});

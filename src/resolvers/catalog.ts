/**
 * The metric catalog (`Query.metrics`), built from the model plan: every (name, version)
 * the model lists — the current ones, or with `history` all — with what it means (a
 * readable rule from catalog-text.ts), how it is stored (kind, dimensions), whether it is
 * still being backfilled (the API's coverage feed: no ClickHouse read), and as published in
 * storage. A changed rule is a new version beside the old one, never an edit of a published
 * text, so a number on last quarter's report can still be traced to the rule it used.
 */
import { operandsOf } from '../model/formula.ts';
import type { MetricVersion, ModelPlan } from '../model/types.ts';
import type { StoredDefinition } from '../storage/definitions.ts';
import { readableDefinition } from './catalog-text.ts';

export const METRIC_KINDS = ['COUNT', 'SUM', 'DISTINCT', 'FORMULA'] as const;
export type MetricKind = (typeof METRIC_KINDS)[number];

export interface Published {
  /** The canonical rule, a formula's operands pinned. */
  definition: string;
  checksum: string;
  publishedAtMs: number;
}

export interface MetricDefinition {
  /** The model name upper-cased, as in the GraphQL metric enums. */
  name: string;
  version: number;
  unit: string;
  description: string;
  /** The exact rule, precise enough to recompute the number from events. */
  definition: string;
  kind: MetricKind;
  derived: boolean;
  /** A measure's `by`; a formula's dimensions (those all its operands share, or its own `by`). */
  dimensions: readonly string[];
  hidden: boolean;
  current: boolean;
  /** Day (UTC, YYYY-MM-DD) the version took effect, and the day a later version replaced it (null = current). */
  effectiveFrom: string;
  supersededOn: string | null;
  /** Before this instant its points are not yet backfilled from the event log; null = complete. */
  incompleteBefore: number | null;
  /** As published in storage (src/storage/definitions.ts); null until published, undefined when not read. */
  published?: Published | null;
}

export interface CatalogSources {
  plan: ModelPlan;
  coverage: { incompleteBefore(id: string): number | null };
  /** What storage published, when the query needs it; null = not read. */
  published: readonly StoredDefinition[] | null;
  now: number;
}

const utcDay = (ms: number) => new Date(ms).toISOString().slice(0, 10);

/** The latest `incompleteBefore` of the stored versions `v` reads (a formula: over its pinned operands, recursively). */
export function incompleteBeforeOf(plan: ModelPlan, v: MetricVersion, coverage: CatalogSources['coverage']): number | null {
  if (v.kind !== 'formula') return coverage.incompleteBefore(v.id);
  let before: number | null = null;
  for (const o of operandsOf(v.pinned)) {
    const operand = plan.metric(o.name, o.version ?? undefined);
    const b = operand ? incompleteBeforeOf(plan, operand, coverage) : null;
    if (b !== null && (before === null || b > before)) before = b;
  }
  return before;
}

/** Whether listing `versions` needs storage to date them: some entry has no `effectiveFrom` (it took effect when first published). */
export const needsPublicationDates = (plan: ModelPlan, o: { history: boolean }) => listed(plan, o).some((v) => v.effectiveFrom === undefined);

const listed = (plan: ModelPlan, o: { history: boolean }) => {
  const order = (v: MetricVersion) => plan.names.indexOf(v.name);
  return plan.versions.filter((v) => o.history || v.current).sort((a, b) => order(a) - order(b) || a.version - b.version);
};

/** The current version of every metric of the plan, or with `history` every version, in file order of names, then by version. */
export function listMetrics(src: CatalogSources, o: { history: boolean }): MetricDefinition[] {
  const byId = new Map((src.published ?? []).map((p) => [p.id, p]));
  const publishedOf = (v: MetricVersion): Published | null => {
    const p = byId.get(v.id);
    return p ? { definition: p.definition, checksum: p.checksum, publishedAtMs: p.publishedAtMs } : null;
  };
  // Not yet published: it takes effect when it is, at the earliest today.
  const effectiveFrom = (v: MetricVersion) => v.effectiveFrom ?? utcDay(byId.get(v.id)?.publishedAtMs ?? src.now);
  const next = (v: MetricVersion) =>
    src.plan.versions.filter((x) => x.name === v.name && x.version > v.version).sort((a, b) => a.version - b.version)[0];
  return listed(src.plan, o).map((v) => {
    const successor = v.current ? undefined : next(v);
    return {
      name: v.name.toUpperCase(),
      version: v.version,
      unit: v.unit,
      description: v.description,
      definition: readableDefinition(src.plan, v),
      kind: v.kind.toUpperCase() as MetricKind,
      derived: v.kind === 'formula',
      dimensions: v.by,
      hidden: v.hidden,
      current: v.current,
      effectiveFrom: effectiveFrom(v),
      supersededOn: successor ? effectiveFrom(successor) : null,
      incompleteBefore: incompleteBeforeOf(src.plan, v, src.coverage),
      ...(src.published ? { published: publishedOf(v) } : {}),
    };
  });
}

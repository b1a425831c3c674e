/**
 * The metric catalog: what every metric means, versioned. A changed rule is a new
 * entry with the next version beside the old one (the old one stays, marked not
 * current, with the date it was superseded), never an edit of a published text —
 * so a number on last quarter's report can still be traced to the rule it used.
 * test/unit/catalog.test.ts checks the invariants.
 */
import { METRICS } from '../contracts/metrics.ts';
import type { StoredDefinition } from '../storage/definitions.ts';
import { DERIVED_METRICS, DERIVED_SCALE, type SeriesMetric } from './derived.ts';

export interface MetricDefinition {
  name: SeriesMetric;
  version: number;
  unit: 'currency' | 'count' | 'users' | 'currency per user';
  description: string;
  /** The exact rule, precise enough to recompute the number from events. */
  definition: string;
  derived: boolean;
  /** Day (UTC, YYYY-MM-DD) the version took effect, and the day a later version replaced it. */
  effectiveFrom: string;
  supersededOn: string | null;
  /** As published in storage (src/storage/definitions.ts); null until this version was published. */
  published?: Published | null;
}

export interface Published {
  /** The canonical rule, a formula's operands pinned. */
  definition: string;
  checksum: string;
  publishedAtMs: number;
}

const WINDOWED = 'Counted per 1-minute event-time window of the tenant and currency; an event counts once per idempotency key.';

export const CATALOG: readonly MetricDefinition[] = [
  {
    name: 'REVENUE',
    version: 1,
    unit: 'currency',
    description: 'Money taken in purchases, in one currency.',
    definition: `Exact sum of \`amount\` over purchase events (Decimal(38, 6), never converted between currencies; upgrades with an amount are not revenue). ${WINDOWED}`,
    derived: false,
    effectiveFrom: '2026-01-01',
    supersededOn: null,
  },
  {
    name: 'PURCHASES',
    version: 1,
    unit: 'count',
    description: 'Number of purchases.',
    definition: `Count of events with eventType = purchase. ${WINDOWED}`,
    derived: false,
    effectiveFrom: '2026-01-01',
    supersededOn: null,
  },
  {
    name: 'SIGNUPS',
    version: 1,
    unit: 'count',
    description: 'Number of signups.',
    definition: `Count of events with eventType = signup. ${WINDOWED}`,
    derived: false,
    effectiveFrom: '2026-01-01',
    supersededOn: null,
  },
  {
    name: 'UPGRADES',
    version: 1,
    unit: 'count',
    description: 'Number of plan upgrades.',
    definition: `Count of events with eventType = upgrade. ${WINDOWED}`,
    derived: false,
    effectiveFrom: '2026-01-01',
    supersededOn: null,
  },
  {
    name: 'CHURNS',
    version: 1,
    unit: 'count',
    description: 'Number of cancellations.',
    definition: `Count of events with eventType = churn. ${WINDOWED}`,
    derived: false,
    effectiveFrom: '2026-01-01',
    supersededOn: null,
  },
  {
    name: 'ACTIVE_USERS',
    version: 1,
    unit: 'users',
    description: 'Distinct users with any event.',
    definition:
      'Exact count of distinct userId over events of any type in the bucket or range (uniqExact states merged across windows, never summed); with a currency, users with an event in that currency.',
    derived: false,
    effectiveFrom: '2026-01-01',
    supersededOn: null,
  },
  {
    name: 'ARPU',
    version: 1,
    unit: 'currency per user',
    description: 'Average revenue per active user, in one currency.',
    definition: `REVENUE / ACTIVE_USERS of the same currency and bucket (or range), from exact values: BigInt micro-units divided and rounded to ${DERIVED_SCALE} fractional digits, half to even; 0 when there are no active users.`,
    derived: true,
    effectiveFrom: '2026-11-25',
    supersededOn: null,
  },
  {
    name: 'NET_USER_CHANGE',
    version: 1,
    unit: 'count',
    description: 'Signups minus churns (negative when more users left than joined).',
    definition: 'SIGNUPS − CHURNS of the same bucket (or range) and currency filter; exact integers.',
    derived: true,
    effectiveFrom: '2026-11-25',
    supersededOn: null,
  },
];

export const CATALOG_NAMES: readonly SeriesMetric[] = [...METRICS, ...DERIVED_METRICS];

/** The current version of every metric, or with `history` every version, ordered by name then version. */
export function listMetrics(o: { history: boolean; name?: SeriesMetric | null }): MetricDefinition[] {
  return CATALOG.filter((d) => (o.history || d.supersededOn === null) && (!o.name || d.name === o.name)).sort(
    (a, b) => CATALOG_NAMES.indexOf(a.name) - CATALOG_NAMES.indexOf(b.name) || a.version - b.version,
  );
}

/** `list` with each entry's published definition: a GraphQL name is its model name upper-cased (docs/metrics.md). */
export function withPublished(list: readonly MetricDefinition[], published: readonly StoredDefinition[]): MetricDefinition[] {
  const byId = new Map(published.map((p) => [p.id, p]));
  return list.map((d) => {
    const p = byId.get(`${d.name.toLowerCase()}@${d.version}`);
    return { ...d, published: p ? { definition: p.definition, checksum: p.checksum, publishedAtMs: p.publishedAtMs } : null };
  });
}

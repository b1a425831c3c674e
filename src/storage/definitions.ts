/**
 * The published metric versions (`metric_definitions`, migration 0011): read, checked
 * against a model, and recorded. `tilecast migrate` and every starting process record the
 * versions of their model; a model that changes a published version is refused before
 * anything is written (docs/metrics.md, "Versions are immutable").
 */
import { z } from 'zod';
import type { PublishedDefinition } from '../model/definition.ts';
import { publicationProblems, withPublishedPins } from '../model/published.ts';
import type { ModelPlan } from '../model/types.ts';
import type { ClickHouse } from './clickhouse.ts';

/** A published version as storage keeps it. `publishedAt` is its UTC day (YYYY-MM-DD), for messages. */
export interface StoredDefinition extends PublishedDefinition {
  name: string;
  version: number;
  /** Name of the model that first published it. */
  model: string;
  publishedAtMs: number;
}

const storedRow = z.object({
  metric: z.string(),
  metric_version: z.coerce.number(),
  definition: z.string(),
  checksum: z.string(),
  pins: z.record(z.string(), z.coerce.number()),
  model: z.string(),
  published_ms: z.coerce.number(),
});

/** Refused: the model changes what storage published. One line per problem. */
export class PublishedDefinitionError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(problems.join('\n'));
    this.name = 'PublishedDefinitionError';
  }
}

/**
 * Every published version, the first publication of each (name, version) winning: two
 * processes publishing the same new version at once both write, readers see the earlier.
 */
export async function readPublished(db: ClickHouse): Promise<StoredDefinition[]> {
  // (published_at, checksum) orders the rows of one version totally: every reader picks the same one.
  const rows = await db.query({
    queryId: 'definitions.read',
    sql: `SELECT metric, metric_version, definition, checksum, pins, model, toUnixTimestamp64Milli(published_at) AS published_ms
          FROM metric_definitions
          ORDER BY metric, metric_version, published_at, checksum
          LIMIT 1 BY metric, metric_version`,
    row: storedRow,
  });
  return rows.map((r) => ({
    id: `${r.metric}@${r.metric_version}`,
    name: r.metric,
    version: r.metric_version,
    definition: r.definition,
    checksum: r.checksum,
    ...(Object.keys(r.pins).length ? { pins: r.pins } : {}),
    model: r.model,
    publishedAtMs: r.published_ms,
    publishedAt: new Date(r.published_ms).toISOString().slice(0, 10),
  }));
}

/**
 * Checks `plan` against what storage published, writing nothing. Resolves with the plan
 * as this storage runs it (published formulas keep their pinned operands,
 * src/model/published.ts); throws PublishedDefinitionError listing every problem.
 */
export async function checkDefinitions(db: ClickHouse, plan: ModelPlan): Promise<{ plan: ModelPlan; published: StoredDefinition[] }> {
  const published = await readPublished(db);
  const problems = publicationProblems(plan, published);
  if (problems.length) throw new PublishedDefinitionError(problems);
  return { plan: withPublishedPins(plan, published), published };
}

/**
 * Checks `plan` (as checkDefinitions), then publishes its versions not yet published:
 * definition, checksum, a formula's operand pins, the model's name. Recording again is
 * a no-op; nothing is written when the check fails.
 */
export async function recordDefinitions(db: ClickHouse, plan: ModelPlan): Promise<{ plan: ModelPlan; recorded: string[]; alreadyPublished: number }> {
  const checked = await checkDefinitions(db, plan);
  const known = new Set(checked.published.map((p) => p.id));
  const fresh = checked.plan.versions.filter((v) => !known.has(v.id));
  if (fresh.length) {
    const rows = fresh.map((v) => {
      const d = checked.plan.definitions.get(v.id)!;
      return { metric: v.name, metric_version: v.version, definition: d.definition, checksum: d.checksum, pins: d.pins ?? {}, model: plan.name };
    });
    // A retried insert may write a version twice: readers take its first publication.
    await db.insert({ queryId: 'definitions.record', table: 'metric_definitions', rows, idempotent: true });
  }
  return { plan: checked.plan, recorded: fresh.map((v) => v.id), alreadyPublished: known.size };
}

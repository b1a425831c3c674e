/**
 * The shape of a model file as written (before names are resolved): one zod schema, strict
 * everywhere so a misspelt key is an error with its line rather than silently ignored.
 * Cross-references (fields, dimensions, operands), money, budgets and cycles are checked
 * afterwards by compile.ts, which needs the whole file.
 */
import { z } from 'zod';

export const NAME_PATTERN = /^[a-z][a-z0-9_]*$/;
const name = z.string().regex(NAME_PATTERN, 'must match ^[a-z][a-z0-9_]*$ (lower case, digits, underscores)');
const text = z.string().trim().min(1);
/** A decimal bound as written: YAML gives numbers for `0` or `0.5`, strings for quoted values. */
const decimalBound = z.union([z.number(), z.string()]);
/** `500ms`, `10s`, `5m`, `1h`. */
export const DURATION_PATTERN = /^(\d+)(ms|s|m|h)$/;
const duration = z.string().regex(DURATION_PATTERN, 'must be a duration such as 500ms, 10s, 5m or 1h');

const fieldBase = { required: z.boolean().optional(), description: text.optional() };
export const fieldDecl = z.discriminatedUnion('type', [
  z.object({ type: z.literal('decimal'), ...fieldBase, min: decimalBound.optional(), exclusiveMin: decimalBound.optional() }).strict(),
  z.object({ type: z.literal('currency'), ...fieldBase }).strict(),
  z
    .object({ type: z.literal('string'), ...fieldBase, maxLength: z.number().int().positive().optional(), pattern: z.string().min(1).optional() })
    .strict(),
  z.object({ type: z.literal('enum'), ...fieldBase, values: z.array(z.string().min(1)).min(1) }).strict(),
  z.object({ type: z.literal('integer'), ...fieldBase, min: z.number().int().optional(), max: z.number().int().optional() }).strict(),
  z.object({ type: z.literal('boolean'), ...fieldBase }).strict(),
]);
export type FieldDecl = z.infer<typeof fieldDecl>;

const dimensionDecl = z
  .object({ maxValuesPerTenant: z.number().int().positive(), description: text.optional() })
  .strict();

const eventDecl = z
  .object({
    description: text.optional(),
    fields: z.record(z.string(), z.unknown()).optional(),
    /** Common (model-wide) fields that this event type must carry. */
    required: z.array(z.string()).optional(),
  })
  .strict();

const scalar = z.union([z.string(), z.number(), z.boolean()]);
const numberBound = z.union([z.number(), z.string()]);
export const whereValue = z.union([
  scalar,
  z.array(scalar).min(1),
  z.object({ not: z.union([scalar, z.array(scalar).min(1)]) }).strict(),
  z
    .object({ gt: numberBound.optional(), gte: numberBound.optional(), lt: numberBound.optional(), lte: numberBound.optional() })
    .strict()
    .refine((o) => Object.keys(o).length > 0, 'needs one of gt, gte, lt, lte'),
]);
export type WhereValue = z.infer<typeof whereValue>;

export const UNIT_PATTERN = /^(count|users|currency|ratio|number|currency per [a-z][a-z ]*)$/;

const metricEntry = z
  .object({
    name,
    version: z.number().int().positive(),
    unit: z.string().regex(UNIT_PATTERN, 'must be count, users, currency, ratio, number or "currency per <noun>"'),
    description: text.optional(),
    hidden: z.boolean().optional(),
    effectiveFrom: z.iso.date('must be a date YYYY-MM-DD').optional(),
    count: z.literal(true).optional(),
    sum: z.string().optional(),
    distinct: z.string().optional(),
    formula: z.string().optional(),
    where: z.record(z.string(), whereValue).optional(),
    by: z.array(z.string()).optional(),
    onZeroDivision: z.enum(['null', 'zero']).optional(),
  })
  .strict();
export type MetricEntry = z.infer<typeof metricEntry>;

/** The file's top level; each entry of fields, dimensions, events and metrics is checked on its own (source.ts), so one bad entry does not hide the others' errors. */
export const modelFileTop = z
  .object({
    model: text,
    window: z.literal('1m', 'only 1m is supported: MINUTE granularity and half-hour time zones rely on it').default('1m'),
    allowedLateness: duration.default('10s'),
    staleAfter: duration.default('30s'),
    /** Per metric and tenant: the product of its `by` dimensions' budgets may not exceed it. */
    maxSeriesPerMetric: z.number().int().positive().default(10_000),
    fields: z.record(z.string(), z.unknown()).default({}),
    dimensions: z.record(z.string(), z.unknown()).default({}),
    events: z.record(z.string(), z.unknown()).refine((e) => Object.keys(e).length > 0, 'declares no event type'),
    metrics: z.array(z.unknown()).min(1),
  })
  .strict();

export const entrySchemas = { field: fieldDecl, dimension: dimensionDecl, event: eventDecl.nullable(), metric: metricEntry };

export interface ModelFile extends Omit<z.infer<typeof modelFileTop>, 'fields' | 'dimensions' | 'events' | 'metrics'> {
  fields: Record<string, FieldDecl>;
  dimensions: Record<string, z.infer<typeof dimensionDecl>>;
  events: Record<string, { description?: string; fields?: Record<string, FieldDecl>; required?: string[] } | null>;
  /** Index in the file's list, then the entry. */
  metrics: { index: number; entry: MetricEntry }[];
}

/** Names of entries whose own shape was wrong: already reported, so references to them are not reported again. */
export interface Broken {
  fields: Set<string>;
  events: Set<string>;
  dimensions: Set<string>;
  metrics: Set<string>;
}

export function durationMs(d: string): number {
  const [, n, unit] = DURATION_PATTERN.exec(d)!;
  return Number(n) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[unit as 'ms' | 's' | 'm' | 'h'];
}

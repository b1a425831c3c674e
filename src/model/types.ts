/**
 * The compiled metric model: what `src/model/` makes of a model file, and what ingest,
 * aggregation, storage and the GraphQL schema read. Code outside `src/model/` never names a
 * metric, an event type or a field: it asks the plan.
 *
 * Names (metrics, fields, dimensions, event types) match `^[a-z][a-z0-9_]*$`. A metric is
 * identified by name and version: `revenue@1`.
 */

import type { ZodType } from 'zod';

/** Built into every event type, never declared in a model file. */
export const COMMON_FIELDS = ['eventId', 'eventType', 'userId', 'tenantId', 'traceId', 'timestamp'] as const;
export type CommonField = (typeof COMMON_FIELDS)[number];

export type FieldType = 'decimal' | 'currency' | 'string' | 'enum' | 'integer' | 'boolean';

/** A validated declared field value: decimals as canonical decimal strings (contracts/decimal.ts). */
export type FieldValue = string | number | boolean;

export interface FieldSpec {
  name: string;
  type: FieldType;
  required: boolean;
  description?: string;
  /** decimal: canonical decimal literals. */
  min?: string;
  exclusiveMin?: string;
  /** integer bounds. */
  minInt?: number;
  maxInt?: number;
  /** string. */
  maxLength?: number;
  pattern?: string;
  /** enum: the allowed values, in file order. */
  values?: readonly string[];
}

export interface EventTypeSpec {
  name: string;
  description?: string;
  /** Every declared field an event of this type may carry: the model's common fields, then its own. */
  fields: ReadonlyMap<string, FieldSpec>;
}

export interface DimensionSpec {
  name: string;
  /** The declared field it reads (same name); enum, string, currency or boolean. */
  type: FieldType;
  maxValuesPerTenant: number;
  /** `currency`: values beyond the budget are rejected, not folded into `__other__`. */
  rejectOverBudget: boolean;
  description?: string;
}

/** The reserved stored value for dimension values beyond a tenant's budget (shown as `other`). */
export const OTHER_VALUE = '__other__';

/** One `where` condition of a metric, normalised. Conditions of a metric are ANDed. */
export type Condition =
  | { key: string; op: 'in'; values: readonly FieldValue[] }
  | { key: string; op: 'not'; values: readonly FieldValue[] }
  | { key: string; op: 'gt' | 'gte' | 'lt' | 'lte'; value: string };

export type Unit = 'count' | 'users' | 'currency' | 'ratio' | 'number' | `currency per ${string}`;

interface VersionBase {
  /** `name@version`. */
  id: string;
  name: string;
  version: number;
  unit: Unit;
  description: string;
  /** Kept out of the GraphQL Metric enum (still computed, usable as a formula operand). */
  hidden: boolean;
  /** The highest version of this name in the file. */
  current: boolean;
  /** Optional date (YYYY-MM-DD) the entry says it took effect; else the date it was first published. */
  effectiveFrom?: string;
  /** Line of the entry in the model file, for messages. */
  line: number | null;
}

/** A stored metric: computed at ingest into windows per `by` dimensions. */
export interface MeasureVersion extends VersionBase {
  kind: 'count' | 'sum' | 'distinct';
  /** sum: a decimal or integer field; distinct: any field or `userId`; count: undefined. */
  field?: string;
  where: readonly Condition[];
  /** Dimension names stored for this metric, in file order. */
  by: readonly string[];
  /** A sum of a decimal field over events that carry `currency`: never added across currencies. */
  money: boolean;
  /** Compiled `where`: true when the event counts for this metric. */
  matches(e: ModelEvent): boolean;
  /**
   * Raw values of the `by` dimensions of `e`, in `by` order; null when the event lacks the
   * field (a null slice). Budget folding is applied by the caller.
   */
  dimsOf(e: ModelEvent): (string | null)[];
  /** sum: the field's value as a decimal literal, or null when absent; distinct: the value as a string, or null. */
  valueOf(e: ModelEvent): string | null;
}

export type FormulaAst =
  | { type: 'number'; value: string }
  | { type: 'metric'; name: string; version: number | null }
  | { type: 'binary'; op: '+' | '-' | '*' | '/'; left: FormulaAst; right: FormulaAst };

/** Computed at read time (and by the aggregator for live updates) from other metrics. */
export interface FormulaVersion extends VersionBase {
  kind: 'formula';
  /** As written, operands possibly unpinned (`version: null`). */
  expr: FormulaAst;
  /** Every operand pinned to a version (unpinned ones to the current version in the file). */
  pinned: FormulaAst;
  /** Its own filter (read time), only on dimensions every operand has in `by`. */
  where: readonly Condition[];
  /**
   * The entry's `by`, or when it has none the dimensions every operand has: the only ones a
   * formula can be filtered or broken down by.
   */
  by: readonly string[];
  /** Some operand is money: queries need one currency. */
  money: boolean;
  onZeroDivision: 'null' | 'zero';
}

export type MetricVersion = MeasureVersion | FormulaVersion;

/** What a process records per published (name, version) and compares on start. */
export interface RecordedDefinition {
  id: string;
  /** Human-readable canonical rule, formula operands pinned (e.g. `gross_revenue@1 - refunds@1`). */
  definition: string;
  /** sha256 of the canonical JSON of the definition (description, hidden and effectiveFrom excluded). */
  checksum: string;
  /** A formula's operand versions as pinned when it was published (name → version); absent for stored metrics. */
  pins?: Readonly<Record<string, number>>;
}

export interface ValidEvent {
  eventId?: string;
  eventType: string;
  userId: string;
  tenantId: string;
  traceId: string;
  timestamp: number;
  /** Declared fields present on the event, by name. */
  fields: Readonly<Record<string, FieldValue>>;
}

/** A validated event with its identity: what aggregation and the event log see. */
export interface ModelEvent extends ValidEvent {
  /** Idempotency key (identity.ts `eventKey`): the eventId (lower-cased), or a digest of traceId, eventType, timestamp and userId. */
  key: string;
}

export interface Issue {
  path: string;
  message: string;
}

export type Validation = { ok: true; event: ValidEvent } | { ok: false; issues: Issue[] };

/** An error in a model file. */
export interface ModelError {
  /** 1-based; null when the error is not tied to one place (e.g. a formula cycle is reported at its first entry). */
  line: number | null;
  column: number | null;
  /** e.g. `metrics[3].sum`, `events.purchase.fields.amount.type`. */
  path: string;
  message: string;
}

export interface ModelPlan {
  name: string;
  /** Base window: 60 000 (only `1m` is accepted for now). */
  windowMs: number;
  allowedLatenessMs: number;
  staleAfterMs: number;
  maxSeriesPerMetric: number;
  /** Declared fields every event type has (the file's `fields`). */
  commonFields: ReadonlyMap<string, FieldSpec>;
  eventTypes: ReadonlyMap<string, EventTypeSpec>;
  dimensions: ReadonlyMap<string, DimensionSpec>;
  /** Every entry of the file, in file order. */
  versions: readonly MetricVersion[];
  /** Stored (non-formula) versions: what the aggregator computes. */
  measures: readonly MeasureVersion[];
  /** A version by name, or the current one when `version` is omitted. */
  metric(name: string, version?: number): MetricVersion | undefined;
  /** Metric names in file order (each once). */
  names: readonly string[];
  /** Validates one decoded JSON value as an event of this model (strict: unknown fields are issues). */
  validate(value: unknown): Validation;
  /** The strict zod schema of each event type (what `validate` picks by `eventType`; its output has the declared fields at the top level). */
  eventSchemas: ReadonlyMap<string, ZodType<Record<string, unknown>>>;
  /** The canonical definition and checksum of every version, by id (`name@version`), in file order. */
  definitions: ReadonlyMap<string, RecordedDefinition>;
  /** sha256 of the file's text. */
  checksum: string;
}

/**
 * Event validators generated from the model: one strict zod schema per event type (its
 * built-in fields, the model's common fields and its own), and `validate`, which picks the
 * schema by `eventType`. Reasons read like Event v1's (src/contracts/event.ts), so the
 * default model rejects exactly what it did, with the same words.
 */
import { z } from 'zod';
import { DECIMAL_PATTERN, canonicalDecimal, toMicros } from '../contracts/decimal.ts';
import { tenantIdSchema } from '../contracts/event.ts';
import type { EventTypeSpec, FieldSpec, FieldValue, Validation, ValidEvent } from './types.ts';
import { ISO_CURRENCIES } from './where.ts';
import { fastValidator } from './fast-validate.ts';

/** Built-in fields before the declared ones, and after them: the order issues are listed in. */
const builtInsBefore = (eventType: z.ZodType<string>) => ({
  eventId: z.uuid().optional().describe('Idempotency key; derived from traceId, eventType, timestamp and userId when absent'),
  eventType,
  userId: z.string().min(1).max(256),
  tenantId: tenantIdSchema,
});
const builtInsAfter = {
  traceId: z
    .string()
    .regex(/^[0-9a-f]{32}$/, 'traceId must be 32 lower-case hex characters (W3C trace-id)')
    .refine((t) => !/^0+$/.test(t), 'traceId must not be all zeros'),
  timestamp: z.number().int().min(0).max(253_402_300_799_999, 'timestamp must be epoch milliseconds'),
};

/** A decimal field's rule: its canonical string, or why not (shared by the zod schema and the fast path). */
function decimalRule(f: FieldSpec): (v: string | number) => string | { message: string } {
  const min = f.min === undefined ? null : toMicros(f.min);
  const exclusiveMin = f.exclusiveMin === undefined ? null : toMicros(f.exclusiveMin);
  const positiveOnly = exclusiveMin === 0n && min === null;
  return (v) => {
    const literal = typeof v === 'number' ? (Number.isFinite(v) ? String(v) : '') : v.trim();
    if (!DECIMAL_PATTERN.test(literal)) return { message: `${f.name} must be a decimal with at most 6 fractional digits` };
    const canonical = canonicalDecimal(literal);
    // Most bounds are "> 0": decided on the canonical string without BigInt (hot path of every event).
    const micros = positiveOnly ? null : toMicros(canonical);
    if (positiveOnly ? canonical.startsWith('-') || canonical === '0' : exclusiveMin !== null && micros! <= exclusiveMin) return { message: `${f.name} must be greater than ${f.exclusiveMin}` };
    if (min !== null && micros! < min) return { message: `${f.name} must be at least ${f.min}` };
    return canonical;
  };
}

/** Exact decimal given as a string or a JSON number, kept as its canonical string, within the field's bounds. */
function decimalSchema(f: FieldSpec): z.ZodType<string> {
  const rule = decimalRule(f);
  return z.union([z.string(), z.number()]).transform((v, ctx) => {
    const r = rule(v);
    if (typeof r === 'string') return r;
    ctx.addIssue({ code: 'custom', message: r.message });
    return z.NEVER;
  });
}

/** The zod schema of one declared field's value (presence is decided by the caller). */
export function fieldSchema(f: FieldSpec): z.ZodType<FieldValue> {
  switch (f.type) {
    case 'decimal':
      return decimalSchema(f);
    case 'currency':
      return z
        .string()
        .regex(/^[A-Z]{3}$/, `${f.name} must be 3 upper-case letters`)
        .refine((c) => ISO_CURRENCIES.has(c), `${f.name} is not an ISO 4217 code`);
    case 'string': {
      let str = z.string();
      if (f.maxLength !== undefined) str = str.max(f.maxLength, `${f.name} must be at most ${f.maxLength} characters`);
      if (f.pattern !== undefined) str = str.regex(new RegExp(f.pattern), `${f.name} must match ${f.pattern}`);
      return str;
    }
    case 'enum':
      return z.enum(f.values as [string, ...string[]]);
    case 'integer': {
      let n = z.number().int();
      if (f.minInt !== undefined) n = n.min(f.minInt, `${f.name} must be at least ${f.minInt}`);
      if (f.maxInt !== undefined) n = n.max(f.maxInt, `${f.name} must be at most ${f.maxInt}`);
      return n;
    }
    case 'boolean':
      return z.boolean();
  }
}

/** The decimal rule as the fast path takes it: the canonical string, or null. */
const decimalOf = (f: FieldSpec) => {
  const rule = decimalRule(f);
  return (v: string | number): string | null => {
    const r = rule(v);
    return typeof r === 'string' ? r : null;
  };
};

type Parsed = Record<string, unknown> & { eventId?: string; eventType: string; userId: string; tenantId: string; traceId: string; timestamp: number };

const toValidEvent = (p: Parsed, declared: readonly string[]): ValidEvent => {
  const fields: Record<string, FieldValue> = {};
  for (const name of declared) if (p[name] !== undefined) fields[name] = p[name] as FieldValue;
  const e: ValidEvent = { eventType: p.eventType, userId: p.userId, tenantId: p.tenantId, traceId: p.traceId, timestamp: p.timestamp, fields };
  if (p.eventId !== undefined) e.eventId = p.eventId;
  return e;
};

/** A declared field as one event type's schema checks it. */
interface Slot {
  spec: FieldSpec;
  /** Required on every event type: zod's own required check (as Event v1's currency). */
  always: boolean;
  /** Required by this event type only: checked after, with the reason "<field> is required for <type>". */
  forType: boolean;
}

/** `type`: the event type the schema is for (its eventType must be that one); null: any declared type. */
function objectSchema(types: readonly [string, ...string[]], slots: readonly Slot[], type: string | null): { schema: z.ZodType<Parsed>; names: string[] } {
  const shape: Record<string, z.ZodType> = { ...builtInsBefore(type === null ? z.enum(types) : z.literal(type)) };
  for (const s of slots) shape[s.spec.name] = s.always ? fieldSchema(s.spec) : fieldSchema(s.spec).optional();
  Object.assign(shape, builtInsAfter);
  const own = slots.filter((s) => s.forType).map((s) => s.spec.name);
  const names = slots.map((s) => s.spec.name);
  const schema = z
    .object(shape)
    .strict()
    .superRefine((e, ctx) => {
      for (const name of own) if (e[name] === undefined) ctx.addIssue({ code: 'custom', path: [name], message: `${name} is required for ${type}` });
    }) as unknown as z.ZodType<Parsed>;
  return { schema, names };
}

export interface EventValidators {
  /** Per event type: the strict schema of that type (its output: the event with its declared fields at the top level). */
  byType: ReadonlyMap<string, z.ZodType<Record<string, unknown>>>;
  validate(value: unknown): Validation;
}

/**
 * `eventTypes[].fields` holds every declared field of the type with `required` as it
 * applies to that type; `commonRequired` names the common fields required on every type.
 */
export function buildValidators(eventTypes: ReadonlyMap<string, EventTypeSpec>, commonRequired: ReadonlySet<string>): EventValidators {
  const names = [...eventTypes.keys()] as [string, ...string[]];
  const byType = new Map<string, { schema: z.ZodType<Parsed>; names: string[] }>();
  const fast = new Map<string, (value: unknown) => ValidEvent | null>();
  const all = new Map<string, Slot>();
  for (const [name, t] of eventTypes) {
    const slots = [...t.fields.values()].map((spec) => ({ spec, always: commonRequired.has(spec.name), forType: spec.required && !commonRequired.has(spec.name) }));
    byType.set(name, objectSchema(names, slots, name));
    const quick = fastValidator(name, slots.map((s) => ({ spec: s.spec, required: s.always || s.forType })), decimalOf);
    if (quick) fast.set(name, quick);
    for (const s of slots) if (!all.has(s.spec.name)) all.set(s.spec.name, { ...s, forType: false });
  }
  // An object whose eventType is missing or unknown: every declared field is allowed, so the reasons are about eventType.
  const fallback = objectSchema(names, [...all.values()], null);
  const validate = (value: unknown): Validation => {
    const type = typeof value === 'object' && value !== null ? (value as { eventType?: unknown }).eventType : undefined;
    // Valid events (nearly all) without zod; anything the fast path does not vouch for, zod decides.
    const quick = typeof type === 'string' ? fast.get(type)?.(value) : null;
    if (quick) return { ok: true, event: quick };
    const { schema, names } = (typeof type === 'string' && byType.get(type)) || fallback;
    const r = schema.safeParse(value);
    if (r.success) return { ok: true, event: toValidEvent(r.data, names) };
    return { ok: false, issues: r.error.issues.map((i) => ({ path: i.path.map(String).join('.'), message: i.message })) };
  };
  return { byType: new Map([...byType].map(([name, s]) => [name, s.schema])), validate };
}

/**
 * The JSON Schema (draft-07) of the events a model accepts, generated from the same plan as
 * the zod validators: what `tilecast schema events` prints and `tilecast schema push`
 * registers. One object schema (an envelope): `eventType` one of the model's types, every
 * field some type declares, the fields every type requires as required, nothing else.
 * It never refuses an event the model accepts; what it does not say as a keyword is in
 * the descriptions and enforced by the model's validators after it (which type carries or
 * requires which field, a decimal's bounds and digits, ISO 4217 codes, an all-zero trace id).
 *
 * The shape is what the registry's BACKWARD check can follow (Apicurio 2.4, tested in
 * test/integration/registry-model.test.ts): a root `oneOf` per event type or an
 * `allOf` of `if`/`then` per type turns the root into a combined schema, refused as
 * SUBSCHEMA_TYPE_CHANGED after an object schema (what earlier releases registered); and
 * patterns or bounds on a decimal, an `enum` of currencies, or a `not` beside a pattern
 * are refused as narrowing. So a deployment's schema can follow the one registered before.
 */
import { TENANT_ID_PATTERN } from '../contracts/event.ts';
import type { EventTypeSpec, FieldSpec, ModelPlan } from './types.ts';

type Schema = Record<string, unknown>;

const BUILT_INS: Record<string, Schema> = {
  eventId: { type: 'string', format: 'uuid', description: 'Idempotency key; derived from traceId, eventType, timestamp and userId when absent' },
  userId: { type: 'string', minLength: 1, maxLength: 256 },
  tenantId: { type: 'string', pattern: TENANT_ID_PATTERN.source },
  traceId: { type: 'string', pattern: '^[0-9a-f]{32}$', description: 'W3C trace-id: 32 lower-case hex characters, not all zeros' },
  timestamp: { type: 'integer', minimum: 0, maximum: 253_402_300_799_999, description: 'Event time, epoch milliseconds' },
};

function boundsText(f: FieldSpec): string {
  const parts = [f.exclusiveMin !== undefined ? `> ${f.exclusiveMin}` : '', f.min !== undefined ? `≥ ${f.min}` : ''].filter(Boolean);
  return `Exact decimal${parts.length ? ` ${parts.join(', ')}` : ''}, at most 6 fractional digits, as a string or a JSON number.`;
}

function fieldJsonSchema(f: FieldSpec): Schema {
  const described = (s: Schema, text?: string): Schema => (text || f.description ? { ...s, description: [f.description, text].filter(Boolean).join(' ') } : s);
  switch (f.type) {
    case 'decimal':
      return described({ type: ['string', 'number'] }, boundsText(f));
    case 'currency':
      return described({ type: 'string', pattern: '^[A-Z]{3}$' }, f.description ? undefined : 'ISO 4217 currency code');
    case 'string':
      return described({ type: 'string', ...(f.maxLength !== undefined ? { maxLength: f.maxLength } : {}), ...(f.pattern !== undefined ? { pattern: f.pattern } : {}) });
    case 'enum':
      return described({ type: 'string', enum: [...f.values!] });
    case 'integer':
      return described({ type: 'integer', ...(f.minInt !== undefined ? { minimum: f.minInt } : {}), ...(f.maxInt !== undefined ? { maximum: f.maxInt } : {}) });
    case 'boolean':
      return described({ type: 'boolean' });
  }
}

const list = (names: readonly string[]) => names.join(', ');

/** Which types carry and require a field, when not all do: part of its description. */
function carriedText(name: string, types: readonly EventTypeSpec[]): string {
  const carrying = types.filter((t) => t.fields.has(name));
  const requiring = carrying.filter((t) => t.fields.get(name)!.required);
  const parts: string[] = [];
  if (carrying.length < types.length) parts.push(`Only on ${list(carrying.map((t) => t.name))}.`);
  if (requiring.length > 0 && requiring.length < types.length) parts.push(`Required on ${list(requiring.map((t) => t.name))}.`);
  return parts.join(' ');
}

/** A field's schema across the types that declare it: one when they agree, else `anyOf` of theirs. */
function unionField(name: string, types: readonly EventTypeSpec[]): Schema {
  const distinct = new Map<string, Schema>();
  for (const t of types) {
    const f = t.fields.get(name);
    if (!f) continue;
    const s = fieldJsonSchema(f);
    distinct.set(JSON.stringify(s), s);
  }
  const [only, ...more] = [...distinct.values()];
  const merged = more.length === 0 ? only! : { anyOf: [only!, ...more] };
  const text = carriedText(name, types);
  if (!text) return merged;
  const description = [merged.description, text].filter(Boolean).join(' ');
  return { ...merged, description };
}

/** The events' JSON Schema: one strict object schema over every event type (see the top of the file). */
export function eventsJsonSchema(plan: ModelPlan): Schema {
  const types = [...plan.eventTypes.values()];
  const fieldNames = [...new Set(types.flatMap((t) => [...t.fields.keys()]))];
  const properties: Schema = { eventId: BUILT_INS.eventId, eventType: { type: 'string', enum: types.map((t) => t.name) }, userId: BUILT_INS.userId, tenantId: BUILT_INS.tenantId };
  for (const name of fieldNames) properties[name] = unionField(name, types);
  Object.assign(properties, { traceId: BUILT_INS.traceId, timestamp: BUILT_INS.timestamp });
  const requiredEverywhere = fieldNames.filter((n) => types.every((t) => t.fields.get(n)?.required));
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    title: `Events of the ${plan.name} model`,
    description: `Event types: ${types.map((t) => (t.description ? `${t.name} (${t.description})` : t.name)).join('; ')}`,
    type: 'object',
    properties,
    required: ['eventType', 'userId', 'tenantId', ...requiredEverywhere, 'traceId', 'timestamp'],
    additionalProperties: false,
  };
}

/** The schema's text as registered (stable key order: pushing an unchanged model again finds the same id). */
export const eventsJsonSchemaText = (plan: ModelPlan): string => JSON.stringify(eventsJsonSchema(plan));

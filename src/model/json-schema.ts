/**
 * The JSON Schema (draft-07) of the events a model accepts, generated from the same plan as
 * the zod validators: one branch per event type (`eventType` constant, its fields, nothing
 * else). What JSON Schema cannot say exactly is in the descriptions (a decimal's bounds on
 * its string form other than > 0 and ≥ 0, at most 6 fractional digits on a JSON number).
 */
import { DECIMAL_PATTERN } from '../contracts/decimal.ts';
import { TENANT_ID_PATTERN } from '../contracts/event.ts';
import type { FieldSpec, ModelPlan } from './types.ts';
import { ISO_CURRENCIES } from './where.ts';

type Schema = Record<string, unknown>;

const BUILT_INS: Record<string, Schema> = {
  eventId: { type: 'string', format: 'uuid', description: 'Idempotency key; derived from traceId, eventType, timestamp and userId when absent' },
  userId: { type: 'string', minLength: 1, maxLength: 256 },
  tenantId: { type: 'string', pattern: TENANT_ID_PATTERN.source },
  traceId: { type: 'string', pattern: '^[0-9a-f]{32}$', not: { pattern: '^0+$' }, description: 'W3C trace-id: 32 lower-case hex characters, not all zeros' },
  timestamp: { type: 'integer', minimum: 0, maximum: 253_402_300_799_999, description: 'Event time, epoch milliseconds' },
};

function boundsText(f: FieldSpec): string {
  const parts = [f.exclusiveMin !== undefined ? `> ${f.exclusiveMin}` : '', f.min !== undefined ? `≥ ${f.min}` : ''].filter(Boolean);
  return `Exact decimal${parts.length ? ` ${parts.join(', ')}` : ''}, at most 6 fractional digits, as a string or a JSON number`;
}

/**
 * A decimal string's pattern. The common bounds "> 0" and "≥ 0" are expressed with
 * lookaheads (no minus sign; not zero); other bounds only in the description.
 */
function stringPattern(f: FieldSpec): string {
  const digits = DECIMAL_PATTERN.source.slice(1); // without the leading ^
  if (f.exclusiveMin === '0' && (f.min === undefined || f.min === '0')) return `^(?!-)(?!0(\\.0+)?$)${digits}`;
  if (f.min === '0' && f.exclusiveMin === undefined) return `^(?!-(?!0(\\.0+)?$))${digits}`;
  return DECIMAL_PATTERN.source;
}

function fieldJsonSchema(f: FieldSpec): Schema {
  const described = (s: Schema, text?: string): Schema => (text || f.description ? { ...s, description: [f.description, text].filter(Boolean).join('. ') } : s);
  switch (f.type) {
    case 'decimal': {
      const number: Schema = { type: 'number' };
      if (f.exclusiveMin !== undefined) number.exclusiveMinimum = Number(f.exclusiveMin);
      if (f.min !== undefined) number.minimum = Number(f.min);
      return described({ oneOf: [{ type: 'string', pattern: stringPattern(f) }, number] }, boundsText(f));
    }
    case 'currency':
      // Draft-07 ignores keywords beside $ref: the description goes on a wrapper.
      return f.description ? { description: f.description, allOf: [{ $ref: '#/definitions/currency' }] } : { $ref: '#/definitions/currency' };
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

/** The events' JSON Schema: `oneOf` one object schema per event type, strict like the validators. */
export function eventsJsonSchema(plan: ModelPlan): Schema {
  const branches = [...plan.eventTypes.values()].map((t) => {
    const properties: Schema = { eventId: BUILT_INS.eventId, eventType: { const: t.name }, userId: BUILT_INS.userId, tenantId: BUILT_INS.tenantId };
    for (const f of t.fields.values()) properties[f.name] = fieldJsonSchema(f);
    Object.assign(properties, { traceId: BUILT_INS.traceId, timestamp: BUILT_INS.timestamp });
    const required = ['eventType', 'userId', 'tenantId', ...[...t.fields.values()].filter((f) => f.required).map((f) => f.name), 'traceId', 'timestamp'];
    return { title: t.name, ...(t.description ? { description: t.description } : {}), type: 'object', properties, required, additionalProperties: false };
  });
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    $id: `urn:tilecast:model:${plan.name}:events`,
    title: `Events of the ${plan.name} model`,
    oneOf: branches,
    definitions: { currency: { type: 'string', description: 'ISO 4217 currency code', enum: [...ISO_CURRENCIES].sort() } },
  };
}

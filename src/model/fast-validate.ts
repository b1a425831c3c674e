/**
 * The validators' fast path (validators.ts): plain checks, without zod, of one event type's
 * strict schema, for the events that are valid — nearly all of them on the ingest path.
 * It accepts only what the zod schema accepts, with the same output, and declines anything
 * else (returns null); the zod schema then decides, with its issues and their words. So a
 * rejection always comes from zod, and an acceptance here is one zod would give: checks
 * here are at least as strict as zod's (e.g. a string's UTF-16 length, which is never
 * below the code-point count zod bounds), test/unit/model-fast-validate.test.ts compares
 * both on valid, invalid and edge-case events.
 */
import { TENANT_ID_PATTERN } from '../contracts/event.ts';
import type { FieldSpec, FieldValue, ValidEvent } from './types.ts';
import { ISO_CURRENCIES } from './where.ts';

/** A field's value as the schema outputs it, or undefined: not vouched for (zod decides). */
type Check = (v: unknown) => FieldValue | undefined;

export interface FastSlot {
  spec: FieldSpec;
  /** Required on this event type (on every type, or by this type). */
  required: boolean;
}

const ALL_ZEROS = /^0+$/;

/** 0-9, a-f (lower-case only unless `upper`). */
const isHex = (c: number, upper: boolean): boolean => (c >= 48 && c <= 57) || (c >= 97 && c <= 102) || (upper && c >= 65 && c <= 70);

/** /^[0-9a-f]{32}$/ (traceId), without a regular expression: every event has one. */
function isTraceHex(v: string): boolean {
  if (v.length !== 32) return false;
  for (let i = 0; i < 32; i++) if (!isHex(v.charCodeAt(i), false)) return false;
  return true;
}

const NIL_UUID = '00000000-0000-0000-0000-000000000000';
const MAX_UUID = 'ffffffff-ffff-ffff-ffff-ffffffffffff';

/**
 * zod's eventId rule (z.uuid(): an RFC 9562 UUID of versions 1–8, either case, or the nil or
 * max UUID in lower case), without its regular expression; the test compares it with zod.
 */
export function isZodUuid(v: string): boolean {
  if (v.length !== 36) return false;
  if (v === NIL_UUID || v === MAX_UUID) return true;
  for (let i = 0; i < 36; i++) {
    const c = v.charCodeAt(i);
    if (i === 8 || i === 13 || i === 18 || i === 23) {
      if (c !== 45) return false; // '-'
    } else if (i === 14) {
      if (c < 49 || c > 56) return false; // version 1-8
    } else if (i === 19) {
      if (c !== 56 && c !== 57 && c !== 97 && c !== 98 && c !== 65 && c !== 66) return false; // variant 8, 9, a, b
    } else if (!isHex(c, true)) return false;
  }
  return true;
}
const CURRENCY = /^[A-Z]{3}$/;
const MAX_TIMESTAMP = 253_402_300_799_999;

const str = (v: unknown): v is string => typeof v === 'string';

/** The check of one declared field; `decimal` is the schema's own decimal rule (value → canonical string, null = invalid). */
function fieldCheck(f: FieldSpec, decimal: (v: string | number) => string | null): Check | null {
  switch (f.type) {
    case 'decimal':
      return (v) => ((typeof v === 'number' && Number.isFinite(v)) || str(v) ? (decimal(v) ?? undefined) : undefined);
    case 'currency':
      return (v) => (str(v) && CURRENCY.test(v) && ISO_CURRENCIES.has(v) ? v : undefined);
    case 'string': {
      const max = f.maxLength ?? Infinity;
      const pattern = f.pattern === undefined ? null : new RegExp(f.pattern);
      return (v) => (str(v) && v.length <= max && (pattern === null || pattern.test(v)) ? v : undefined);
    }
    case 'enum': {
      const values = new Set(f.values);
      return (v) => (str(v) && values.has(v) ? v : undefined);
    }
    case 'integer': {
      const min = f.minInt ?? -Infinity;
      const max = f.maxInt ?? Infinity;
      return (v) => (typeof v === 'number' && Number.isSafeInteger(v) && v >= min && v <= max ? v : undefined);
    }
    case 'boolean':
      return (v) => (typeof v === 'boolean' ? v : undefined);
    default:
      return null;
  }
}

/**
 * The fast path of the schema of event type `type` with these declared fields (in the
 * schema's order), or null when a field is of a kind it does not know (zod alone then).
 * `uuid`: the schema's eventId rule (isZodUuid; a test may pass another).
 */
export function fastValidator(type: string, slots: readonly FastSlot[], decimal: (f: FieldSpec) => (v: string | number) => string | null, uuid: (v: string) => boolean = isZodUuid): ((value: unknown) => ValidEvent | null) | null {
  const names: string[] = [];
  const checks: Check[] = [];
  const required: boolean[] = [];
  for (const s of slots) {
    const check = fieldCheck(s.spec, decimal(s.spec));
    if (!check) return null;
    names.push(s.spec.name);
    checks.push(check);
    required.push(s.required);
  }
  const known = new Set(['eventId', 'eventType', 'userId', 'tenantId', 'traceId', 'timestamp']);
  if (names.some((n) => known.has(n))) return null;
  for (const n of names) known.add(n);

  return (value) => {
    if (typeof value !== 'object' || value === null || Object.getPrototypeOf(value) !== Object.prototype) return null;
    const o = value as Record<string, unknown>;
    const { eventId, eventType, userId, tenantId, traceId, timestamp } = o;
    if (eventType !== type) return null;
    if (!str(userId) || userId.length < 1 || userId.length > 256) return null;
    if (!str(tenantId) || !TENANT_ID_PATTERN.test(tenantId)) return null;
    if (!str(traceId) || !isTraceHex(traceId) || ALL_ZEROS.test(traceId)) return null;
    if (typeof timestamp !== 'number' || !Number.isSafeInteger(timestamp) || timestamp < 0 || timestamp > MAX_TIMESTAMP) return null;
    if (eventId !== undefined && (!str(eventId) || !uuid(eventId))) return null;
    for (const k in o) if (!known.has(k)) return null; // strict: an unknown key is zod's to report
    // The declared fields in the schema's order, as toValidEvent (validators.ts) lists them; absent = undefined.
    const fields: Record<string, FieldValue> = {};
    for (let i = 0; i < names.length; i++) {
      const raw = o[names[i]!];
      if (raw === undefined) {
        if (required[i]) return null;
        continue;
      }
      const v = checks[i]!(raw);
      if (v === undefined) return null;
      fields[names[i]!] = v;
    }
    const e: ValidEvent = { eventType: type, userId, tenantId, traceId, timestamp, fields };
    if (eventId !== undefined) e.eventId = eventId as string;
    return e;
  };
}

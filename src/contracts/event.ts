/**
 * Event v1: the one contract producers use, over HTTP and Kafka alike.
 * Types come from the schema (`z.infer`); the JSON Schema export is derived from it.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { DECIMAL_PATTERN, canonicalDecimal } from './decimal.ts';

export const EVENT_TYPES = ['purchase', 'signup', 'churn', 'upgrade'] as const;
export type EventType = (typeof EVENT_TYPES)[number];

export const TENANT_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
export const tenantIdSchema = z.string().regex(TENANT_ID_PATTERN, 'tenantId must match [A-Za-z0-9_-]{1,64}');

const ISO_CURRENCIES = new Set(Intl.supportedValuesOf('currency'));

/** Exact decimal > 0 with ≤ 6 fractional digits, given as a string or a JSON number; kept as a canonical string. */
const amountSchema = z
  .union([z.string(), z.number()])
  .transform((v, ctx) => {
    const literal = typeof v === 'number' ? (Number.isFinite(v) ? String(v) : '') : v.trim();
    if (!DECIMAL_PATTERN.test(literal)) {
      ctx.addIssue({ code: 'custom', message: 'amount must be a decimal with at most 6 fractional digits' });
      return z.NEVER;
    }
    const canonical = canonicalDecimal(literal);
    if (canonical.startsWith('-') || canonical === '0') {
      ctx.addIssue({ code: 'custom', message: 'amount must be greater than 0' });
      return z.NEVER;
    }
    return canonical;
  });

export const eventV1Schema = z
  .object({
    eventId: z.uuid().optional().describe('Idempotency key; derived from traceId, eventType, timestamp and userId when absent'),
    eventType: z.enum(EVENT_TYPES),
    userId: z.string().min(1).max(256),
    tenantId: tenantIdSchema,
    amount: amountSchema.optional().describe('Exact decimal > 0, at most 6 fractional digits; required for purchase'),
    currency: z
      .string()
      .regex(/^[A-Z]{3}$/, 'currency must be 3 upper-case letters')
      .refine((c) => ISO_CURRENCIES.has(c), 'currency is not an ISO 4217 code'),
    traceId: z
      .string()
      .regex(/^[0-9a-f]{32}$/, 'traceId must be 32 lower-case hex characters (W3C trace-id)')
      .refine((t) => !/^0+$/.test(t), 'traceId must not be all zeros'),
    timestamp: z.number().int().min(0).max(253_402_300_799_999, 'timestamp must be epoch milliseconds'),
  })
  .strict()
  .superRefine((e, ctx) => {
    if (e.eventType === 'purchase' && e.amount === undefined) {
      ctx.addIssue({ code: 'custom', path: ['amount'], message: 'amount is required for purchase' });
    }
  });

export type EventV1Input = z.input<typeof eventV1Schema>;
export type EventV1 = z.infer<typeof eventV1Schema>;

/** A validated event with its idempotency key resolved. */
export interface AcceptedEvent extends EventV1 {
  key: string;
}

/** The part of an accepted event that aggregation needs; the event log stores exactly this. */
export type WindowEvent = Pick<AcceptedEvent, 'key' | 'eventType' | 'userId' | 'tenantId' | 'currency' | 'amount' | 'traceId' | 'timestamp'> & {
  /** Every declared field of the metric model present on the event, by name (decimals as canonical strings). */
  fields?: Readonly<Record<string, string | number | boolean>>;
};

/**
 * The idempotency key: the producer's eventId, or a UUID-shaped digest of
 * traceId + eventType + timestamp + userId so retries of the same event collapse.
 */
export function idempotencyKey(e: EventV1): string {
  if (e.eventId) return e.eventId.toLowerCase();
  const hex = createHash('sha256').update(`${e.traceId}|${e.eventType}|${e.timestamp}|${e.userId}`).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-8${hex.slice(13, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

/** JSON Schema (draft 2020-12) of what producers may send. */
export function eventV1JsonSchema(): unknown {
  return z.toJSONSchema(eventV1Schema, { io: 'input', unrepresentable: 'any' });
}

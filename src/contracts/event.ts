/**
 * Event v1: the one contract producers use, over HTTP and Kafka alike.
 * Types come from the schema (`z.infer`); the JSON Schema export is derived from it.
 */
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

/** A declared field's validated value (decimals as canonical decimal strings). */
export type FieldValue = string | number | boolean;

/**
 * An event the ingest pipeline accepted (validated by the metric model, its key resolved):
 * the built-in fields, every declared field present under `fields`, and Event v1's two
 * columns taken from them (src/model/event-fields.ts).
 */
export interface AcceptedEvent {
  eventId?: string;
  eventType: string;
  userId: string;
  tenantId: string;
  traceId: string;
  timestamp: number;
  /** Every declared field of the metric model present on the event, by name. */
  fields: Readonly<Record<string, FieldValue>>;
  /** The `currency` field ('' when the model has none): the event log's and the windows' currency. */
  currency: string;
  /** The `amount` field, when the model declares it as a decimal. */
  amount?: string;
  /** Idempotency key (src/model/identity.ts `eventKey`). */
  key: string;
}

/** The part of an accepted event that aggregation needs; the event log stores exactly this. */
export type WindowEvent = Pick<AcceptedEvent, 'key' | 'eventType' | 'userId' | 'tenantId' | 'currency' | 'amount' | 'traceId' | 'timestamp'> & {
  /** Every declared field of the metric model present on the event, by name (decimals as canonical strings). */
  fields?: Readonly<Record<string, FieldValue>>;
};

/** JSON Schema (draft 2020-12) of what producers may send. */
export function eventV1JsonSchema(): unknown {
  return z.toJSONSchema(eventV1Schema, { io: 'input', unrepresentable: 'any' });
}

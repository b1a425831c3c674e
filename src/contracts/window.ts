/**
 * What the aggregator publishes and the API consumes: one message per changed
 * window (all metrics at once) and a progress tick per flush. Both cross process
 * boundaries (Redis), so receivers validate them with these schemas.
 */
import { z } from 'zod';
import { DECIMAL_PATTERN } from './decimal.ts';
import { tenantIdSchema } from './event.ts';

export const UPDATE_KINDS = ['partial', 'final', 'correction'] as const;
export type UpdateKind = (typeof UPDATE_KINDS)[number];

const epochMs = z.number().int().min(0);
const count = z.number().int().min(0);

export const windowUpdateSchema = z.object({
  tenantId: tenantIdSchema,
  currency: z.string().regex(/^[A-Z]{3}$/),
  windowStart: epochMs,
  windowEnd: epochMs,
  revision: z.number().int().positive(),
  final: z.boolean(),
  kind: z.enum(UPDATE_KINDS),
  revenue: z.string().regex(DECIMAL_PATTERN),
  purchases: count,
  signups: count,
  upgrades: count,
  churns: count,
  activeUsers: count,
  lastEventAt: epochMs,
  traceSample: z.array(z.string()).max(16),
});
export type WindowUpdate = z.infer<typeof windowUpdateSchema>;

/**
 * `processedThrough`: every event accepted before this instant is in ClickHouse.
 * `watermark`: windows ending at or before it are final.
 */
export const progressSchema = z.object({
  source: z.string().min(1),
  processedThrough: epochMs,
  watermark: epochMs,
});
export type Progress = z.infer<typeof progressSchema>;

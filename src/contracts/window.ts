/**
 * What the aggregator publishes and the API consumes: one message per changed
 * window (all metrics at once) and a progress tick per flush. Both cross process
 * boundaries (Redis), so receivers validate them with these schemas.
 */
import { z } from 'zod';
import { DECIMAL_PATTERN } from './decimal.ts';
import { tenantIdSchema, type WindowEvent } from './event.ts';

/** Identifies one stored window: a minute of one tenant × currency. */
export interface WindowRef {
  tenantId: string;
  currency: string;
  windowStart: number;
}

export const windowId = (r: WindowRef): string => `${r.tenantId}\u0000${r.currency}\u0000${r.windowStart}`;

export const UPDATE_KINDS = ['partial', 'final', 'correction'] as const;
export type UpdateKind = (typeof UPDATE_KINDS)[number];

const epochMs = z.number().int().min(0);
const count = z.number().int().min(0);

/**
 * One model cell of the window on the bus: the metric, its `by` values as stored (in `by`
 * order), and its value as a decimal literal — for a distinct metric the number of distinct
 * values of this window (the set itself stays in storage).
 */
export const busCellSchema = z.object({
  metric: z.string().regex(/^[a-z][a-z0-9_]*$/),
  version: z.number().int().positive(),
  dims: z.array(z.string()),
  value: z.string().regex(DECIMAL_PATTERN),
});
export type BusCell = z.infer<typeof busCellSchema>;

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
  /** Every model cell of the window at this revision; absent from publishers that predate the model (receivers then read storage). */
  cells: z.array(busCellSchema).optional(),
});
export type WindowUpdate = z.infer<typeof windowUpdateSchema>;

/**
 * `processedThrough`: every event accepted before this instant is in ClickHouse.
 * `watermark`: windows ending at or before it are final.
 * `lastEventAt`: the newest event time per tenant among the windows this flush wrote
 * (only the tenants it touched), so an API process knows every tenant's freshness
 * without receiving every tenant's window updates. Absent from older publishers.
 */
export const progressSchema = z.object({
  source: z.string().min(1),
  processedThrough: epochMs,
  watermark: epochMs,
  lastEventAt: z.record(tenantIdSchema, epochMs).optional(),
});
export type Progress = z.infer<typeof progressSchema>;

/** The stored values of a window, to tell whether the log holds more than the last write. */
export type WindowValues = Pick<WindowUpdate, 'revenue' | 'purchases' | 'signups' | 'upgrades' | 'churns' | 'activeUsers'>;

/** What storage knows about a window that is not in memory. */
export interface StoredWindow {
  /** Last written revision and its values; revision 0 = never written. */
  revision: number;
  final: boolean;
  values: WindowValues | null;
  /** Every logged event of the window. */
  events: WindowEvent[];
  /**
   * The newest write of the window's model cells (metric_windows): its revision and the
   * events it counted; null when none was written, absent when the caller did not look.
   */
  cells?: { revision: number; events: number } | null;
}

/**
 * One metric cell of a base window as written to metric_windows (migrations/0010): the
 * metric, its `by` values as stored ('' null slice, '__other__' folded), the count or sum
 * as a decimal literal ('0' for distinct), and the distinct values ([] for count and sum).
 */
export interface CellSnapshot {
  metric: string;
  version: number;
  dims: readonly string[];
  value: string;
  users: string[];
}

/** The bus form of a window's cells: distinct values become their count. */
export const busCellsOf = (cells: readonly CellSnapshot[]): BusCell[] =>
  cells.map((c) => ({ metric: c.metric, version: c.version, dims: [...c.dims], value: c.users.length > 0 ? String(c.users.length) : c.value }));

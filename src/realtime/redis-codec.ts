/**
 * What goes over the bus's Redis channels, both ways: outgoing window updates in bounded
 * messages and `dropped` markers; incoming messages validated (channels.ts' envelopes,
 * then each window update against the window contract). A bad message is counted and
 * logged, and yields nothing.
 */
import { windowUpdateSchema, type Progress, type WindowUpdate } from '../contracts/window.ts';
import { progressMessageSchema, tenantMessageSchema, type ChannelMap, type TenantMessage } from './channels.ts';
import type { BusMetrics } from './metrics.ts';

/** Window updates per published message: bounds message size after a large flush. */
export const MAX_UPDATES_PER_MESSAGE = 500;

/** A message on a tenant's channel: its valid window updates, or since when a publisher dropped some (`dropped`). */
export type TenantDelivery = { tenantId: string; updates: WindowUpdate[]; dropped: number | null };

/** One tenant's updates as the messages to publish on its channel, at most MAX_UPDATES_PER_MESSAGE each. */
export function encodeWindows(updates: readonly WindowUpdate[]): { message: string; count: number }[] {
  const out: { message: string; count: number }[] = [];
  for (let i = 0; i < updates.length; i += MAX_UPDATES_PER_MESSAGE) {
    const chunk = updates.slice(i, i + MAX_UPDATES_PER_MESSAGE);
    out.push({ message: JSON.stringify({ type: 'windows', updates: chunk } satisfies TenantMessage), count: chunk.length });
  }
  return out;
}

export function encodeDropped(since: number): string {
  return JSON.stringify({ type: 'dropped', since } satisfies TenantMessage);
}

export function encodeProgress(p: Progress): string {
  return JSON.stringify(p);
}

export function createMessageDecoder(o: { channels: ChannelMap; metrics: BusMetrics; warn: (msg: string) => void }) {
  const { channels, metrics, warn } = o;
  return {
    /** A message on a tenant's window channel; null when it is not one or is invalid. */
    tenant(channel: string, raw: string): TenantDelivery | null {
      const tenantId = channels.tenantOf(channel);
      let message: TenantMessage;
      try {
        if (tenantId === null) throw new Error('not a tenant channel');
        message = tenantMessageSchema.parse(JSON.parse(raw));
      } catch (err) {
        metrics.received.inc({ channel: 'windows', outcome: 'invalid' });
        warn(`invalid message on ${channel}: ${err instanceof Error ? err.message.slice(0, 200) : String(err)}`);
        return null;
      }
      if (message.type === 'dropped') return { tenantId, updates: [], dropped: message.since };
      const updates: WindowUpdate[] = [];
      for (const item of message.updates) {
        const parsed = windowUpdateSchema.safeParse(item);
        // A tenant's channel carries only that tenant's windows: anything else would leak.
        if (parsed.success && parsed.data.tenantId === tenantId) {
          updates.push(parsed.data);
          metrics.received.inc({ channel: 'windows', outcome: 'ok' });
        } else {
          metrics.received.inc({ channel: 'windows', outcome: 'invalid' });
          warn(`invalid window update on ${channel}: ${parsed.success ? 'tenant does not match the channel' : parsed.error.issues[0]?.message}`);
        }
      }
      return { tenantId, updates, dropped: null };
    },
    /** A message on the progress channel; null when invalid. */
    progress(raw: string): Progress | null {
      let parsed: Progress | null = null;
      try {
        const r = progressMessageSchema.safeParse(JSON.parse(raw));
        parsed = r.success ? r.data : null;
      } catch {
        parsed = null;
      }
      metrics.received.inc({ channel: 'progress', outcome: parsed ? 'ok' : 'invalid' });
      if (!parsed) warn(`invalid progress message: ${raw.slice(0, 200)}`);
      return parsed;
    },
  };
}

export type MessageDecoder = ReturnType<typeof createMessageDecoder>;

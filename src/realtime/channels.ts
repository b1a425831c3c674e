/**
 * The Redis channel map and the message on each channel. Every message crosses a
 * process boundary, so receivers validate it with these schemas (publishers are
 * other processes, possibly other versions).
 *
 *   <prefix>:windows:<tenantId>  TenantMessage: a batch of window updates of that tenant,
 *                                or a `dropped` marker (a publisher lost some of them)
 *   <prefix>:progress            Progress: one tick per aggregator flush
 */
import { z } from 'zod';
import { TENANT_ID_PATTERN } from '../contracts/event.ts';
import { progressSchema } from '../contracts/window.ts';

export const CHANNEL_PREFIX_PATTERN = /^[A-Za-z0-9_.:-]{1,64}$/;

/**
 * Window updates are validated one by one (a bad item is dropped, not its batch), so the
 * envelope only checks the shape; `windowUpdateSchema` checks each item.
 */
export const tenantMessageSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('windows'), updates: z.array(z.unknown()).min(1) }),
  z.object({ type: z.literal('dropped'), since: z.number().int().min(0) }),
]);
export type TenantMessage = z.infer<typeof tenantMessageSchema>;

export const progressMessageSchema = progressSchema;

export interface ChannelMap {
  /** The channel of one tenant's window updates. */
  windows(tenantId: string): string;
  readonly progress: string;
  /** The tenant of a window channel; null for any other channel. */
  tenantOf(channel: string): string | null;
}

export function createChannelMap(prefix: string): ChannelMap {
  if (!CHANNEL_PREFIX_PATTERN.test(prefix)) throw new Error(`Invalid Redis channel prefix "${prefix}": use [A-Za-z0-9_.:-], at most 64`);
  const windowsPrefix = `${prefix}:windows:`;
  return {
    windows: (tenantId) => `${windowsPrefix}${tenantId}`,
    progress: `${prefix}:progress`,
    tenantOf(channel) {
      if (!channel.startsWith(windowsPrefix)) return null;
      const tenantId = channel.slice(windowsPrefix.length);
      return TENANT_ID_PATTERN.test(tenantId) ? tenantId : null;
    },
  };
}

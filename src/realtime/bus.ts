/**
 * The update bus between aggregators and API replicas: window updates on one
 * channel per tenant, progress ticks on one shared channel. The in-process bus is
 * the embedded default; the Redis bus (REDIS_URL) carries the same typed messages
 * between processes. Delivery is at-most-once (pub/sub): subscribers that need
 * completeness resume from storage by revision.
 */
import type { Progress, WindowUpdate } from '../contracts/window.ts';

export interface Channels {
  windows: WindowUpdate;
  progress: Progress;
}

export type Unsubscribe = () => void;

/**
 * Something a consumer may have missed, so it should re-read from storage.
 * - `lost`: this process stopped receiving (subscriber connection down). Snapshot
 *   what you know now; nothing arrives until `restored`.
 * - `restored`: receiving again (channels resubscribed). Re-read everything changed
 *   since the `lost` snapshot.
 * - `dropped`: a publisher could not publish some updates of `tenantId`, from flushes
 *   that started at or after `since` (epoch ms, the publisher's progress clock).
 */
export type BusGap = { kind: 'lost' } | { kind: 'restored' } | { kind: 'dropped'; tenantId: string; since: number };

export interface UpdateBus {
  publishWindows(updates: readonly WindowUpdate[]): Promise<void>;
  publishProgress(progress: Progress): Promise<void>;
  /**
   * Window updates of one tenant, in publish order. `onActive` runs once the subscription
   * is in effect — everything published from then on reaches `handler` — at once when it
   * already is (the in-process bus; a tenant this process already receives). What was
   * published before is only in storage: subscribe, then catch up from storage.
   */
  subscribeWindows(tenantId: string, handler: (u: WindowUpdate) => void, onActive?: () => void): Unsubscribe;
  subscribeProgress(handler: (p: Progress) => void): Unsubscribe;
  /** Gaps in delivery (never on the in-process bus). */
  subscribeGaps(handler: (gap: BusGap) => void): Unsubscribe;
  close(): Promise<void>;
}

/** In-process bus: synchronous fan-out to local handlers. */
export function createInProcessBus(): UpdateBus {
  const windowHandlers = new Map<string, Set<(u: WindowUpdate) => void>>();
  const progressHandlers = new Set<(p: Progress) => void>();
  const add = <T>(set: Set<T>, h: T): Unsubscribe => {
    set.add(h);
    return () => set.delete(h);
  };
  return {
    async publishWindows(updates) {
      for (const u of updates) for (const h of windowHandlers.get(u.tenantId) ?? []) h(u);
    },
    async publishProgress(p) {
      for (const h of progressHandlers) h(p);
    },
    subscribeWindows(tenantId, handler, onActive) {
      let set = windowHandlers.get(tenantId);
      if (!set) windowHandlers.set(tenantId, (set = new Set()));
      const off = add(set, handler);
      onActive?.();
      return () => {
        off();
        if (set.size === 0) windowHandlers.delete(tenantId);
      };
    },
    subscribeProgress: (handler) => add(progressHandlers, handler),
    // Synchronous in-process delivery cannot lose anything.
    subscribeGaps: () => () => undefined,
    async close() {
      windowHandlers.clear();
      progressHandlers.clear();
    },
  };
}

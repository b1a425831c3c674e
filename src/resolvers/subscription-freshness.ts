/**
 * Freshness pushes of the subscription hub: each `freshness` subscription gets its
 * tenant's freshness when isStale flips (checked on every progress tick) and, as a
 * heartbeat, every `heartbeatIntervalMs` (the timer runs only while someone listens).
 */
import type { FreshnessTracker } from './freshness.ts';
import type { Member } from './subscription-member.ts';

export function createFreshnessPushes(o: { freshness: FreshnessTracker; heartbeatIntervalMs: number; onDelivered: (count: number) => void }) {
  const byTenant = new Map<string, { members: Set<Member>; lastStale: boolean | null }>();
  let count = 0;
  let heartbeat: NodeJS.Timeout | null = null;

  /** `all`: a heartbeat to every subscriber; otherwise only where isStale flipped. */
  function push(all: boolean): void {
    for (const [tenantId, t] of byTenant) {
      const f = o.freshness.of(tenantId);
      if (!all && f.isStale === t.lastStale) continue;
      t.lastStale = f.isStale;
      for (const m of t.members) m.deliver(f);
      o.onDelivered(t.members.size);
    }
  }

  return {
    add(m: Member): void {
      let t = byTenant.get(m.tenantId);
      if (!t) byTenant.set(m.tenantId, (t = { members: new Set(), lastStale: null }));
      t.members.add(m);
      if (count++ === 0) heartbeat = setInterval(() => push(true), o.heartbeatIntervalMs).unref();
    },
    remove(m: Member): void {
      const t = byTenant.get(m.tenantId);
      if (!t?.members.delete(m)) return;
      if (t.members.size === 0) byTenant.delete(m.tenantId);
      if (--count === 0 && heartbeat) clearInterval(heartbeat);
    },
    /** After a progress tick: pushes where isStale flipped. */
    progressed: (): void => push(false),
    close(): void {
      if (heartbeat) clearInterval(heartbeat);
    },
  };
}

/**
 * The freshness badge, from the last Freshness the API sent and the local clock.
 * The age keeps growing between messages, so the badge turns stale on its own when
 * the pipeline stops (no message needed). Server/browser clock skew is removed with
 * the server's own `ageMs` at the moment the message arrived. Pure.
 */
import type { FreshnessData } from './dashboard.ts';

export interface FreshnessReading {
  dataAsOf: number;
  staleThresholdMs: number;
  /** serverNow − browserNow when the reading arrived. */
  skewMs: number;
}

export type BadgeState = 'live' | 'stale' | 'connecting' | 'offline';

export function readFreshness(f: FreshnessData, receivedAt: number): FreshnessReading {
  return { dataAsOf: f.dataAsOf, staleThresholdMs: f.staleThresholdMs, skewMs: f.dataAsOf + f.ageMs - receivedAt };
}

/** Keeps the newest reading: messages can arrive out of order (HTTP poll vs websocket). */
export const newer = (a: FreshnessReading | null, b: FreshnessReading): FreshnessReading => (a && a.dataAsOf > b.dataAsOf ? a : b);

export function formatAge(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min`;
  if (s < 86_400) return `${Math.floor(s / 3600)} h`;
  return `${Math.floor(s / 86_400)} d`;
}

export function badge(r: FreshnessReading | null, now: number, connection: 'connecting' | 'open' | 'closed'): { state: BadgeState; text: string; ageMs: number | null } {
  if (!r || r.dataAsOf <= 0) return { state: 'connecting', text: 'connecting…', ageMs: null };
  const ageMs = Math.max(0, now + r.skewMs - r.dataAsOf);
  if (ageMs > r.staleThresholdMs) return { state: 'stale', text: `stale · ${formatAge(ageMs)}`, ageMs };
  if (connection !== 'open') return { state: 'offline', text: `reconnecting · ${formatAge(ageMs)} ago`, ageMs };
  return { state: 'live', text: `live · ${formatAge(ageMs)} ago`, ageMs };
}

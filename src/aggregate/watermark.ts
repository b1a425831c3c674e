/**
 * Event-time watermark of one source (the HTTP intake, or one Kafka partition).
 * Pure: the caller passes the clock reading.
 *
 *   watermark = newest event time − allowed lateness            while events flow
 *   watermark = now − allowed lateness                           once idle for `idleAfterMs`
 *
 * It never moves backwards. A window [start, end) is final once watermark ≥ end.
 */
export interface WatermarkOptions {
  allowedLatenessMs: number;
  /** No event for this long and the source counts as idle; its watermark follows the clock. Default: allowedLatenessMs. */
  idleAfterMs?: number;
}

export interface WatermarkState {
  value: number;
  newestEventAt: number | null;
  lastArrivalAt: number | null;
}

export const initialWatermark = (value = 0): WatermarkState => ({ value, newestEventAt: null, lastArrivalAt: null });

export function observeEvent(s: WatermarkState, eventAt: number, now: number, o: WatermarkOptions): WatermarkState {
  // Runs once per event; most events of a batch change nothing (same clock reading, not the newest).
  if (s.lastArrivalAt === now && s.newestEventAt !== null && eventAt <= s.newestEventAt) return s;
  const newestEventAt = s.newestEventAt === null ? eventAt : Math.max(s.newestEventAt, eventAt);
  return { value: Math.max(s.value, newestEventAt - o.allowedLatenessMs), newestEventAt, lastArrivalAt: now };
}

export function advanceIdle(s: WatermarkState, now: number, o: WatermarkOptions): WatermarkState {
  const idleAfterMs = o.idleAfterMs ?? o.allowedLatenessMs;
  const idle = s.lastArrivalAt === null || now - s.lastArrivalAt >= idleAfterMs;
  if (!idle) return s;
  return { ...s, value: Math.max(s.value, now - o.allowedLatenessMs) };
}

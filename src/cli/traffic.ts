/**
 * Synthetic business events for `start --demo` and `simulate`: a few currencies,
 * users who come back, all four event types. Deterministic for a given seed.
 */
import { randomUUID } from 'node:crypto';
import type { EventV1Input } from '../contracts/event.ts';

export function createTrafficGenerator(o: { tenants: string[]; seed?: number; users?: number }) {
  let state = o.seed ?? 42;
  const rand = () => {
    // mulberry32: small, fast, good enough for demo traffic
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const currencies = [
    { code: 'USD', amount: () => (5 + rand() * 200).toFixed(2) },
    { code: 'EUR', amount: () => (5 + rand() * 150).toFixed(2) },
    { code: 'JPY', amount: () => String(500 + Math.floor(rand() * 20_000)) },
  ];
  const users = o.users ?? 500;
  return {
    next(timestamp: number): EventV1Input {
      const c = pick(currencies);
      const r = rand();
      const eventType = r < 0.55 ? 'purchase' : r < 0.8 ? 'signup' : r < 0.92 ? 'upgrade' : 'churn';
      return {
        eventId: randomUUID(),
        eventType,
        userId: `user-${Math.floor(rand() * users)}`,
        tenantId: pick(o.tenants),
        currency: c.code,
        ...(eventType === 'purchase' ? { amount: c.amount() } : {}),
        traceId: randomUUID().replaceAll('-', ''),
        timestamp,
      };
    },
  };
}

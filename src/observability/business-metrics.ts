/**
 * The seed's OpenTelemetry business metrics, recorded by the typed producer
 * (src/producer) beside each acknowledged send:
 *
 * - `business.revenue.total` — Counter, by `tenant.id` and `currency`, + amount of each
 *   purchase. OTel counters are binary floating point (a double per data point), so this
 *   is telemetry for alerting and correlation, not the ledger: the exact figures are
 *   Tilecast's windows (Decimal(38, 6)), and the two may differ in the last cents.
 * - `business.users.active` — UpDownCounter, by `tenant.id`: +1 per signup, −1 per churn.
 *   (The seed also added 1 per upgrade — an upgrading user was active already — and could
 *   never go down.) Distinct active users per window are Tilecast's ACTIVE_USERS.
 *
 * Unlike the seed, `trace.id` is not an attribute: one time series per trace would be
 * unbounded cardinality. The link to traces is an exemplar: with the OTel SDK, a
 * measurement made while a span is active carries that span's trace id.
 */
import { metrics, type Meter } from '@opentelemetry/api';
import type { EventV1 } from '../contracts/event.ts';

export function createBusinessMetrics(meter: Meter = metrics.getMeter('business-metrics')) {
  const revenue = meter.createCounter('business.revenue.total', { description: 'Total recognized revenue by currency (float telemetry; the exact figures are in Tilecast)', unit: '1' });
  const activeUsers = meter.createUpDownCounter('business.users.active', { description: 'Signups minus churns' });
  return {
    /** Records events that were sent (call after the broker acknowledged them). */
    record(events: readonly Pick<EventV1, 'eventType' | 'tenantId' | 'currency' | 'amount'>[]): void {
      for (const e of events) {
        const attributes = { 'tenant.id': e.tenantId, currency: e.currency };
        if (e.eventType === 'purchase' && e.amount !== undefined) revenue.add(Number(e.amount), attributes);
        else if (e.eventType === 'signup') activeUsers.add(1, { 'tenant.id': e.tenantId });
        else if (e.eventType === 'churn') activeUsers.add(-1, { 'tenant.id': e.tenantId });
      }
    },
  };
}

export type BusinessMetrics = ReturnType<typeof createBusinessMetrics>;

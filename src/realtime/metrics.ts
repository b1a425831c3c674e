/**
 * Metrics of the update bus, registered on the app's registry (one per app instance;
 * a private one when none is given). Labels come from code, never from input.
 */
import { Counter, Registry } from 'prom-client';

export function createBusMetrics(registry: Registry = new Registry()) {
  const registers = [registry];
  return {
    received: new Counter({
      name: 'tilecast_bus_messages_received_total',
      help: 'Bus messages received from Redis, by channel kind (windows|progress) and outcome (ok|invalid)',
      labelNames: ['channel', 'outcome'] as const,
      registers,
    }),
    published: new Counter({
      name: 'tilecast_bus_messages_published_total',
      help: 'Bus messages published to Redis, by channel kind and outcome (ok|failed|dropped_disconnected)',
      labelNames: ['channel', 'outcome'] as const,
      registers,
    }),
    gaps: new Counter({
      name: 'tilecast_bus_gaps_total',
      help: 'Delivery gaps signalled to consumers, by kind (lost|restored|dropped)',
      labelNames: ['kind'] as const,
      registers,
    }),
  };
}

export type BusMetrics = ReturnType<typeof createBusMetrics>;

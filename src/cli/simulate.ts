/**
 * `tilecast simulate --rate N --duration S --tenants T [--target http|kafka] [--url U]`:
 * synthetic traffic (traffic.ts) at a steady rate, to POST /v1/events (one request per
 * tenant and tick, with tokens minted from the configured secret) or straight to
 * KAFKA_TOPIC through the typed producer. Prints a progress line (redrawn in place on
 * a terminal, every 5 s otherwise) and a summary.
 *
 * Pacing: every tick sends what is due (rate × elapsed − sent), at most one tick's
 * backlog × 10 at once, and waits for it; a slow target makes the achieved rate drop
 * (reported) instead of piling up requests in memory.
 */
import { parseArgs } from 'node:util';
import { createTokenService, resolveSecret } from '../auth/tokens.ts';
import { loadConfig } from '../config/index.ts';
import type { EventV1Input } from '../contracts/event.ts';
import { createKafkaClient } from '../ingest/kafka/client.ts';
import { createLogger } from '../observability/logger.ts';
import { createBusinessEventEmitter } from '../producer/index.ts';
import { createTrafficGenerator } from './traffic.ts';

const TICK_MS = 100;

interface Totals {
  sent: number;
  accepted: number;
  rejected: number;
  failed: number;
}

/** Sends one batch; resolves with how many the target accepted and rejected. */
type Send = (events: EventV1Input[]) => Promise<{ accepted: number; rejected: number }>;

function progressLine(t: Totals, target: number, elapsedMs: number, width = 28): string {
  const ratio = Math.min(1, t.sent / Math.max(1, target));
  const filled = Math.round(ratio * width);
  const rate = Math.round(t.sent / Math.max(0.001, elapsedMs / 1000));
  const n = (x: number) => x.toLocaleString('en-US');
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${String(Math.round(ratio * 100)).padStart(3)}%  sent ${n(t.sent)}/${n(target)}  ${n(rate)}/s  accepted ${n(t.accepted)}  rejected ${n(t.rejected)}  failed ${n(t.failed)}`;
}

async function httpSender(o: { url: string; tenants: string[]; mint: (tenant: string) => Promise<string> }): Promise<Send> {
  const tokens = new Map(await Promise.all(o.tenants.map(async (t) => [t, await o.mint(t)] as const)));
  return async (events) => {
    const byTenant = new Map<string, EventV1Input[]>();
    for (const e of events) byTenant.set(e.tenantId, [...(byTenant.get(e.tenantId) ?? []), e]);
    const results = await Promise.all(
      [...byTenant].map(async ([tenant, batch]) => {
        const res = await fetch(`${o.url}/v1/events`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${tokens.get(tenant)}` },
          body: JSON.stringify(batch),
        });
        if (res.status !== 202) throw new Error(`POST /v1/events answered ${res.status}: ${await res.text()}`);
        const body = (await res.json()) as { accepted: number; rejected: unknown[] };
        return { accepted: body.accepted, rejected: body.rejected.length };
      }),
    );
    return results.reduce((a, r) => ({ accepted: a.accepted + r.accepted, rejected: a.rejected + r.rejected }), { accepted: 0, rejected: 0 });
  };
}

export async function runSimulate(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      rate: { type: 'string', default: '1000' },
      duration: { type: 'string', default: '30' },
      tenants: { type: 'string', default: '5' },
      target: { type: 'string', default: 'http' },
      url: { type: 'string' },
    },
  });
  const rate = Number(values.rate);
  const duration = Number(values.duration);
  const tenantCount = Number(values.tenants);
  if (!(rate > 0) || !(duration > 0) || !Number.isInteger(tenantCount) || tenantCount < 1) {
    throw new Error('--rate and --duration must be positive numbers, --tenants a positive integer');
  }
  if (values.target !== 'http' && values.target !== 'kafka') throw new Error('--target must be http or kafka');
  const config = loadConfig(process.env);
  const tenants = Array.from({ length: tenantCount }, (_, i) => `sim-${i + 1}`);
  const traffic = createTrafficGenerator({ tenants, seed: Date.now() });

  let send: Send;
  let close = async () => {};
  if (values.target === 'kafka') {
    if (!config.kafka) throw new Error('--target kafka needs KAFKA_BROKERS');
    const { topic, topicPartitions, brokers } = config.kafka;
    const logger = createLogger('warn');
    const admin = createKafkaClient({ brokers, clientId: 'tilecast-simulate', logger });
    await admin.ensureTopics([{ topic, partitions: topicPartitions }]);
    await admin.close();
    // With SCHEMA_REGISTRY_URL the records are framed with the registered schema's id.
    const emitter = createBusinessEventEmitter({ brokers, topic, clientId: 'tilecast-simulate', logger, schemaRegistry: config.schemaRegistry && { ...config.schemaRegistry, model: config.model.path } });
    send = async (events) => {
      await emitter.emitBusinessEvent(events);
      return { accepted: events.length, rejected: 0 };
    };
    close = () => emitter.close();
  } else {
    const tokens = createTokenService(resolveSecret(config.auth.secret, config.storage.dataDir));
    send = await httpSender({
      url: values.url ?? `http://${config.server.host}:${config.server.port}`,
      tenants,
      mint: (tenantId) => tokens.mint({ tenantId, scope: 'ingest', ttlSeconds: duration + 3600 }),
    });
  }

  const target = Math.round(rate * duration);
  const totals: Totals = { sent: 0, accepted: 0, rejected: 0, failed: 0 };
  const tty = process.stdout.isTTY;
  const started = Date.now();
  let lastPrint = 0;
  const print = (force = false) => {
    const now = Date.now();
    if (!force && now - lastPrint < (tty ? 200 : 5000)) return;
    lastPrint = now;
    const line = progressLine(totals, target, now - started);
    process.stdout.write(tty ? `\r${line}` : `${line}\n`);
  };
  console.log(`simulate: ${rate}/s for ${duration}s over ${tenantCount} tenants → ${values.target}`);
  let lastError = '';
  while (totals.sent < target) {
    const elapsed = Date.now() - started;
    const due = Math.min(target, Math.floor((rate * elapsed) / 1000)) - totals.sent;
    if (due <= 0) {
      await new Promise((r) => setTimeout(r, TICK_MS));
      continue;
    }
    const batch = Array.from({ length: Math.min(due, Math.max(1, Math.ceil((rate * TICK_MS) / 100))) }, () => traffic.next(Date.now()));
    try {
      const r = await send(batch);
      totals.accepted += r.accepted;
      totals.rejected += r.rejected;
    } catch (err) {
      totals.failed += batch.length;
      lastError = err instanceof Error ? err.message : String(err);
    }
    totals.sent += batch.length;
    print();
  }
  print(true);
  if (tty) process.stdout.write('\n');
  const seconds = (Date.now() - started) / 1000;
  console.log(`done: ${totals.sent} events in ${seconds.toFixed(1)}s (${Math.round(totals.sent / seconds)}/s)${lastError ? `; last error: ${lastError}` : ''}`);
  await close();
  if (totals.failed > 0) process.exitCode = 1;
}

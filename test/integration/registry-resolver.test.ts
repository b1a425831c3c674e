/**
 * The worker's schema resolver against the real registry: ids resolve once per process
 * whatever the number of records, ids of another subject and unknown ids become rejects,
 * an Avro record written by @kafkajs/confluent-schema-registry decodes, and while the
 * registry does not answer `prepare` asks the caller to wait (nothing is concluded about
 * the records), readiness and the metric say so, and it catches up once it answers.
 */
import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import { Registry } from 'prom-client';
import { beforeAll, describe, expect, it } from 'vitest';
import { createRegistryClient, RegistryUnavailableError, type RegistryClient } from '../../src/ingest/registry/client.ts';
import { eventsJsonSchemaText } from '../../src/model/json-schema.ts';
import { loadPlan } from '../helpers/model.ts';
import { createSchemaResolver, RegistryWaitError } from '../../src/ingest/registry/resolver.ts';
import { frame } from '../../src/ingest/registry/wire.ts';
import { registerSchema, schemaRegistryUrl } from './registry-harness.ts';
import { avroEventSchema } from '../helpers/avro.ts';

const run = `resolver${process.pid}${Date.now().toString(36)}`;
const SUBJECT = `${run}-value`;
const OTHER = `${run}-other-value`;
const AVRO_SUBJECT = `${run}-avro-value`;
const event = {
  eventType: 'signup',
  userId: 'u1',
  tenantId: 'acme',
  currency: 'USD',
  traceId: '0af7651916cd43dd8448eb211c80319c',
  timestamp: 1_700_000_000_000,
};
const AVRO = avroEventSchema(`test.${run}`);

let url: string;
let id: number;
let otherId: number;

beforeAll(async () => {
  url = await schemaRegistryUrl();
  id = await registerSchema(url, SUBJECT, eventsJsonSchemaText(loadPlan()));
  // Another subject's schema (a different text, so a different content id).
  otherId = await registerSchema(url, OTHER, { ...JSON.parse(eventsJsonSchemaText(loadPlan())), title: 'another stream' });
}, 600_000);

const metric = async (registry: Registry, name: string, labels: Record<string, string> = {}) => {
  const m = (await registry.getMetricsAsJSON()).find((x) => x.name === name);
  return (m?.values ?? []).filter((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l)).reduce((a, v) => a + v.value, 0);
};

describe('schema resolver against the registry', () => {
  it('resolves each id once per process, and tells unknown ids and other subjects apart', async () => {
    const registry = new Registry();
    const resolver = createSchemaResolver({ client: createRegistryClient({ url }), subject: SUBJECT, metricsRegistry: registry });
    const good = frame(id, JSON.stringify(event));
    const bad = frame(id, JSON.stringify({ ...event, eventType: 'refund' }));
    const unknown = frame(2_000_000_000, JSON.stringify(event));
    const other = frame(otherId, JSON.stringify(event));
    for (let i = 0; i < 5; i++) await resolver.prepare([good, bad, unknown, other, null, Buffer.from('{"plain":true}')]);

    expect(resolver.decode(good)).toEqual({ ok: true, value: event });
    expect(resolver.decode(bad)).toMatchObject({ ok: false, reason: 'registered_schema_violation' });
    expect(resolver.decode(unknown)).toMatchObject({ ok: false, reason: 'schema_unknown' });
    const mismatch = resolver.decode(other);
    expect(mismatch).toMatchObject({ ok: false, reason: 'schema_subject_mismatch' });
    expect(!mismatch.ok && mismatch.issues[0]!.message).toContain(OTHER);

    expect(await metric(registry, 'tilecast_schema_registry_lookups_total', { outcome: 'resolved' })).toBe(1);
    expect(await metric(registry, 'tilecast_schema_registry_lookups_total')).toBe(3);
    expect(resolver.status()).toMatchObject({ ok: true });
  });

  it('decodes Avro written by @kafkajs/confluent-schema-registry', async () => {
    const external = new SchemaRegistry({ host: url });
    await createRegistryClient({ url }).setCompatibility(AVRO_SUBJECT, 'BACKWARD');
    const { id: avroId } = await external.register({ type: SchemaType.AVRO, schema: JSON.stringify(AVRO) }, { subject: AVRO_SUBJECT });
    const value = await external.encode(avroId, { ...event, eventId: null, amount: null });
    const resolver = createSchemaResolver({ client: createRegistryClient({ url }), subject: AVRO_SUBJECT });
    await resolver.prepare([value]);
    expect(resolver.decode(value)).toEqual({ ok: true, value: event });
  });

  it('while the registry does not answer: wait, not ready, metric 0; then it catches up', async () => {
    const registry = new Registry();
    const real = createRegistryClient({ url });
    let down = true;
    const failing = <T>(call: () => Promise<T>) => (down ? Promise.reject(new RegistryUnavailableError('connect ECONNREFUSED (test)')) : call());
    const client: RegistryClient = { ...real, schemaById: (n) => failing(() => real.schemaById(n)), versionsOfId: (n) => failing(() => real.versionsOfId(n)) };
    const resolver = createSchemaResolver({ client, subject: SUBJECT, metricsRegistry: registry, maxBackoffMs: 1_000 });
    const good = frame(id, JSON.stringify(event));

    const delays: number[] = [];
    for (let i = 0; i < 4; i++) {
      const err = await resolver.prepare([good]).then(() => null, (e: unknown) => e);
      expect(err).toBeInstanceOf(RegistryWaitError);
      delays.push((err as RegistryWaitError).retryInMs);
    }
    // Backoff grows (with jitter) up to the cap.
    expect(delays[3]!).toBeGreaterThan(delays[0]!);
    expect(Math.max(...delays)).toBeLessThanOrEqual(1_250);
    expect(resolver.status()).toMatchObject({ ok: false });
    expect(resolver.status().detail).toContain('ECONNREFUSED');
    expect(await metric(registry, 'tilecast_schema_registry_up')).toBe(0);
    // Nothing was concluded about the record.
    expect(() => resolver.decode(good)).toThrow(/not prepared/);

    down = false;
    await resolver.prepare([good]);
    expect(resolver.decode(good)).toEqual({ ok: true, value: event });
    expect(resolver.status()).toMatchObject({ ok: true });
    expect(await metric(registry, 'tilecast_schema_registry_up')).toBe(1);
  });

  it('a registry that is not there at all is "unavailable", never "unknown id"', async () => {
    const resolver = createSchemaResolver({ client: createRegistryClient({ url: 'http://127.0.0.1:9/apis/ccompat/v7', timeoutMs: 1_000 }), subject: SUBJECT });
    await expect(resolver.prepare([frame(id, '{}')])).rejects.toBeInstanceOf(RegistryWaitError);
  });
});

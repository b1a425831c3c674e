/**
 * The schema registry for the registry tests: TILECAST_TEST_SCHEMA_REGISTRY_URL (CI starts
 * one), else the local one from scripts/schema-registry/registry.sh, built and started here
 * if needed (flock: test files run in parallel) and left running for the other files, like
 * the Kafka broker in kafka-harness.ts. Storage is in memory, so every test registers what
 * it needs under subjects of its own.
 */
import { execFile, spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Partitioners } from 'kafkajs';
import { createRegistryClient, type SchemaType } from '../../src/ingest/registry/client.ts';
import { ROOT, kafkaClient } from './kafka-harness.ts';
export { avroEventSchema } from '../helpers/avro.ts';

const run = promisify(execFile);

export async function schemaRegistryUrl(): Promise<string> {
  const fromEnv = process.env.TILECAST_TEST_SCHEMA_REGISTRY_URL;
  if (fromEnv) return fromEnv;
  const { stdout } = await run('flock', [join(tmpdir(), 'tilecast-schema-registry-start.lock'), 'bash', 'scripts/schema-registry/registry.sh', 'start'], {
    cwd: ROOT,
    // A cold build (Maven downloads ~200 MB) takes minutes.
    timeout: 600_000,
  });
  const url = stdout.trim().split('\n').at(-1) ?? '';
  if (!/^https?:\/\//.test(url)) throw new Error(`registry.sh start printed no URL: ${stdout}`);
  return url;
}

/** Sets BACKWARD on the subject (the registry's global default is NONE), then registers; returns the id. */
export async function registerSchema(url: string, subject: string, schema: unknown, type: SchemaType = 'JSON'): Promise<number> {
  const client = createRegistryClient({ url });
  await client.setCompatibility(subject, 'BACKWARD');
  return client.register(subject, typeof schema === 'string' ? schema : JSON.stringify(schema), type);
}

/** Produces records with Buffer values in order (acks=all), `chunk` per send; `pace` records/s when given. */
export async function produceBuffers(
  brokers: string,
  topic: string,
  records: readonly { key: string; value: Buffer | string }[],
  o: { chunk?: number; pace?: number; onProgress?: (sent: number) => void } = {},
): Promise<void> {
  const producer = kafkaClient(brokers, 'tilecast-test-registry-producer').producer({ idempotent: true, maxInFlightRequests: 1, createPartitioner: Partitioners.DefaultPartitioner });
  const chunk = o.chunk ?? 1_000;
  const started = Date.now();
  await producer.connect();
  try {
    for (let i = 0; i < records.length; i += chunk) {
      if (o.pace) {
        const dueAt = started + (i / o.pace) * 1000;
        if (dueAt > Date.now()) await new Promise((r) => setTimeout(r, dueAt - Date.now()));
      }
      await producer.send({ topic, acks: -1, messages: records.slice(i, i + chunk).map((r) => ({ key: r.key, value: r.value })) });
      o.onProgress?.(Math.min(records.length, i + chunk));
    }
  } finally {
    await producer.disconnect();
  }
}


/** An event of the JSON stream as that Avro producer's record (every field present, null when absent). */
export const asAvro = (e: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({ eventId: null, amount: null, ...e, ...extra });

/** Runs `tilecast <args>` with `env` on top of this process's; resolves with exit code and output. */
export function tilecast(args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { cwd: ROOT, env: { ...process.env, LOG_LEVEL: 'warn', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    proc.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    proc.on('error', reject);
    proc.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

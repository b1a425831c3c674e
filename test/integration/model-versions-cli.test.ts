/**
 * Issue 14 items 5 and 7 with real processes (`node --import tsx src/cli/main.ts …`):
 * - embedded: `tilecast migrate` publishes models/default.yaml; a copy that changes
 *   revenue's `where` under version 1 makes `migrate` and `start` exit 1 with the message,
 *   publishing nothing; the change as revenue@2 beside revenue@1 migrates and starts.
 * - shared storage (chdb-server as CLICKHOUSE_URL, the Kafka test broker, Redis), migrated
 *   with models/default.yaml: a worker on a model with revenue@2 runs; an API on models/default.yaml (lacking it) exits 1
 *   naming the version; an API on the worker's model starts.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testRedisUrl } from '../helpers/redis.ts';
import { waitFor } from '../helpers/wait.ts';
import { kafkaBrokers, ROOT, startChdbServer, startWorker, type ChdbServer, type WorkerProcess } from './kafka-harness.ts';

const dir = mkdtempSync(join(tmpdir(), 'tilecast-model-versions-cli-'));
const DEFAULT = readFileSync(join(ROOT, 'models/default.yaml'), 'utf8');
const REVENUE_WHERE = 'where: { eventType: purchase }\n    by: [currency]';
const CHANGED = DEFAULT.replace(REVENUE_WHERE, 'where: { eventType: [purchase, upgrade] }\n    by: [currency]');
const BUMPED = DEFAULT.replace(
  '  - name: purchases\n',
  '  - { name: revenue, version: 2, unit: currency, sum: amount, where: { eventType: [purchase, upgrade] }, by: [currency] }\n  - name: purchases\n',
);
const modelFile = (name: string, text: string) => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};
const today = () => new Date().toISOString().slice(0, 10);

/** The environment of a child: ours without the variables that pick a distributed setup, then `env`. */
function childEnv(env: Record<string, string>): NodeJS.ProcessEnv {
  const base = { ...process.env };
  for (const k of ['REDIS_URL', 'KAFKA_BROKERS', 'CLICKHOUSE_URL', 'TILECAST_MODEL']) delete base[k];
  return { ...base, LOG_LEVEL: 'silent', PORT: '0', ...env };
}

/** Runs a command to its end. */
function runCli(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { cwd: ROOT, env: childEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, stdout, stderr })));
}

/** Starts a long-running command; resolves once it printed `ready`, or with its exit when it ends first. */
async function startCli(args: string[], env: Record<string, string>, ready: RegExp) {
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { cwd: ROOT, env: childEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (b: Buffer) => (stdout += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const outcome = await Promise.race([
    exited.then((code) => ({ running: false as const, code })),
    waitFor(() => ready.test(stdout), { timeoutMs: 120_000, what: `${args[0]} to start` }).then(() => ({ running: true as const, code: null })),
  ]);
  return {
    ...outcome,
    stdout: () => stdout,
    stderr: () => stderr,
    async stop(): Promise<number | null> {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('embedded: published versions are immutable', () => {
  const env = { DATA_DIR: join(dir, 'embedded') };

  it('migrate publishes; a changed revenue v1 refuses migrate and start (exit 1, nothing published); revenue@2 beside it migrates and starts', async () => {
    const first = await runCli(['migrate'], { ...env, TILECAST_MODEL: 'models/default.yaml' });
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/^model models\/default\.yaml: published revenue@1, purchases@1, .*net_user_change@1; already published: 0$/m);

    const message = new RegExp(`^tilecast (migrate|start): metric revenue v1 changed since it was published on ${today()}: give it version 2 \\(published: sum\\(amount\\) of events where eventType = purchase by \\(currency\\); now: sum\\(amount\\) of events where eventType in \\(purchase, upgrade\\) by \\(currency\\)\\)\\n$`);
    // A version that would be new (signups@2) rides along: the refused runs must not publish it.
    const changed = modelFile('changed.yaml', CHANGED.replace('  - name: upgrades\n', '  - { name: signups, version: 2, unit: count, count: true, where: { eventType: [signup, upgrade] }, by: [currency] }\n  - name: upgrades\n'));
    const migrate = await runCli(['migrate'], { ...env, TILECAST_MODEL: changed });
    expect(migrate.code).toBe(1);
    expect(migrate.stderr).toMatch(message);
    const start = await startCli(['start'], { ...env, TILECAST_MODEL: changed }, /Tilecast is running/);
    expect(start).toMatchObject({ running: false, code: 1 });
    expect(start.stderr()).toMatch(message);
    expect(start.stdout()).toBe('');

    const bumped = modelFile('bumped.yaml', BUMPED);
    const started = await startCli(['start'], { ...env, TILECAST_MODEL: bumped }, /Tilecast is running/);
    expect(started.running).toBe(true);
    expect(await started.stop()).toBe(0);
    const again = await runCli(['migrate'], { ...env, TILECAST_MODEL: bumped });
    expect(again.code).toBe(0);
    // `start` published revenue@2 (and never signups@2): nothing new for migrate, 8 + 1 recorded.
    expect(again.stdout).toMatch(/^model .*bumped\.yaml: published nothing new; already published: 9$/m);
  }, 240_000);
});

describe('shared storage: a worker and an API on different models', () => {
  let server: ChdbServer;
  let worker: WorkerProcess | undefined;
  let env: Record<string, string>;

  beforeAll(async () => {
    const brokers = await kafkaBrokers();
    server = await startChdbServer();
    const id = `mv-${process.pid}-${Date.now()}`;
    env = {
      CLICKHOUSE_URL: server.url,
      KAFKA_BROKERS: brokers,
      KAFKA_TOPIC: `${id}.events`,
      KAFKA_DLQ_TOPIC: `${id}.dlq`,
      KAFKA_GROUP_ID: id,
      KAFKA_TOPIC_PARTITIONS: '1',
      REDIS_URL: testRedisUrl(),
      REDIS_CHANNEL_PREFIX: id,
      DATA_DIR: join(dir, 'shared'),
    };
  }, 180_000);

  afterAll(async () => {
    await worker?.stop();
    await server?.stop();
  });

  it("the API that starts second and lacks a version the worker computes exits 1 naming it; one on the worker's model starts", async () => {
    // Deployed with the default model first: arpu@1 is published over revenue@1.
    expect((await runCli(['migrate'], { ...env, TILECAST_MODEL: 'models/default.yaml' })).code).toBe(0);
    const bumped = modelFile('worker.yaml', BUMPED);
    worker = await startWorker('versions', { ...env, LOG_LEVEL: 'silent', TILECAST_MODEL: bumped });

    const refused = await startCli(['api'], { ...env, TILECAST_MODEL: 'models/default.yaml' }, /Tilecast API/);
    expect(refused).toMatchObject({ running: false, code: 1 });
    expect(refused.stderr()).toMatch(
      // (the server-mode client may warn about its settings on a line before)
      /^tilecast api: the worker computes revenue@2, which this API's model \(models\/default\.yaml\) lacks \(worker pid \d+ on .+, model .*worker\.yaml, seen \d+s ago\): start with a model that has it, or stop that worker first\n$/m,
    );

    const api = await startCli(['api'], { ...env, TILECAST_MODEL: bumped }, /Tilecast API/);
    expect(api.running).toBe(true);
    expect(await api.stop()).toBe(0);
  }, 240_000);
});

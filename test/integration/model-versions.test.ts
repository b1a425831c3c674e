/**
 * Issue 14 items 5 and 7 at the storage level, on chdb: published versions recorded and
 * checked (src/storage/definitions.ts), and two processes' publications on one storage
 * (src/storage/publications.ts) — the process-level runs are in model-versions-cli.test.ts.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { compileModel } from '../../src/model/compile.ts';
import { printFormula } from '../../src/model/formula.ts';
import type { FormulaVersion, ModelPlan } from '../../src/model/types.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { createMetrics } from '../../src/observability/metrics.ts';
import { createClickHouse, type ClickHouse } from '../../src/storage/clickhouse.ts';
import { checkDefinitions, PublishedDefinitionError, readPublished, recordDefinitions } from '../../src/storage/definitions.ts';
import { migrate } from '../../src/storage/migrations.ts';
import { livePublications, ModelDisagreementError, publishProcess } from '../../src/storage/publications.ts';

const dir = mkdtempSync(join(tmpdir(), 'tilecast-model-versions-'));
const logger = createLogger('silent');
let db: ClickHouse;

const DEFAULT = readFileSync('models/default.yaml', 'utf8');
const compile = (text: string): ModelPlan => {
  const r = compileModel(text);
  if (!r.ok) throw new Error(r.errors.map((e) => `${e.line}: ${e.path}: ${e.message}`).join('\n'));
  return r.plan;
};
const today = () => new Date().toISOString().slice(0, 10);
/** revenue's rule changed under the same version, and a new version of signups beside it. */
const CHANGED = DEFAULT.replace('where: { eventType: purchase }\n    by: [currency]', 'where: { eventType: [purchase, upgrade] }\n    by: [currency]').replace(
  '  - name: upgrades\n',
  '  - { name: signups, version: 2, unit: count, count: true, where: { eventType: [signup, upgrade] }, by: [currency] }\n  - name: upgrades\n',
);
/** The change done right: revenue@1 as published, revenue@2 with the new rule. */
const BUMPED = CHANGED.replace('  - name: purchases\n', `  - { name: revenue, version: 2, unit: currency, sum: amount, where: { eventType: [purchase, upgrade] }, by: [currency] }\n  - name: purchases\n`).replace(
  'where: { eventType: [purchase, upgrade] }\n    by: [currency]',
  'where: { eventType: purchase }\n    by: [currency]',
);
const count = async () => (await db.query({ queryId: 'test.count', sql: 'SELECT count() AS n FROM metric_definitions', row: z.object({ n: z.coerce.number() }) }))[0]!.n;

beforeAll(async () => {
  db = await createClickHouse({ config: { kind: 'embedded', path: dir, timeoutMs: 60_000 }, logger, metrics: createMetrics() });
  await migrate(db);
});
afterAll(async () => {
  await db?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('published metric versions (metric_definitions)', () => {
  it('records every version of the default model once, with definition, checksum and pins', async () => {
    const plan = compile(DEFAULT);
    const first = await recordDefinitions(db, plan);
    expect(first.recorded).toEqual(plan.versions.map((v) => v.id));
    expect((await recordDefinitions(db, plan)).recorded).toEqual([]);
    expect(await count()).toBe(plan.versions.length);
    const published = await readPublished(db);
    const arpu = published.find((p) => p.id === 'arpu@1')!;
    expect(arpu).toMatchObject({ name: 'arpu', version: 1, model: 'tilecast-default', publishedAt: today(), pins: { revenue: 1, active_users: 1 } });
    expect(arpu.definition).toBe(plan.definitions.get('arpu@1')!.definition);
    expect(arpu.checksum).toBe(plan.definitions.get('arpu@1')!.checksum);
    expect(published.find((p) => p.id === 'revenue@1')!.pins).toBeUndefined();
    expect(Math.abs(arpu.publishedAtMs - Date.now())).toBeLessThan(60_000);
  });

  it('a changed definition under the same version is refused, and nothing is written', async () => {
    const before = await count();
    const err = await recordDefinitions(db, compile(CHANGED)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PublishedDefinitionError);
    expect((err as PublishedDefinitionError).problems).toEqual([expect.stringMatching(new RegExp(`^metric revenue v1 changed since it was published on ${today()}: give it version 2 \\(`))]);
    expect(await count()).toBe(before);
    expect((await readPublished(db)).some((p) => p.id === 'signups@2')).toBe(false);
  });

  it('the change as a new version beside the old one is published; revenue@1 keeps its definition, arpu its operands', async () => {
    const r = await recordDefinitions(db, compile(BUMPED));
    expect(r.recorded.sort()).toEqual(['revenue@2', 'signups@2']);
    const published = await readPublished(db);
    expect(published.find((p) => p.id === 'revenue@1')!.definition).toBe('sum(amount) of events where eventType = purchase by (currency)');
    expect(published.find((p) => p.id === 'revenue@2')!.definition).toBe('sum(amount) of events where eventType in (purchase, upgrade) by (currency)');
    // arpu@1 was published over revenue@1: the file's unpinned `revenue` is now v2, the plan that runs keeps v1.
    expect(printFormula((compile(BUMPED).metric('arpu') as FormulaVersion).pinned)).toBe('revenue@2 / active_users@1');
    expect(printFormula((r.plan.metric('arpu') as FormulaVersion).pinned)).toBe('revenue@1 / active_users@1');
  });

  it('a file that renumbers revenue 1 → 2 drops revenue@1, which the published arpu@1 uses: refused', async () => {
    const renumbered = CHANGED.replace('  - name: revenue\n    version: 1', '  - name: revenue\n    version: 2');
    const err = await checkDefinitions(db, compile(renumbered)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PublishedDefinitionError);
    expect((err as PublishedDefinitionError).problems).toEqual([
      'metric arpu v1 was published as revenue@1 / active_users@1 by (currency); x / 0 = zero, and this model lacks revenue@1: keep it in the file, or give arpu a new version',
    ]);
  });

  it('the first publication of a version wins when two were written', async () => {
    await db.insert({ queryId: 'test.race', table: 'metric_definitions', rows: [{ metric: 'signups', metric_version: 2, definition: 'late', checksum: 'f'.repeat(64), pins: {}, model: 'other' }] });
    const signups2 = (await readPublished(db)).filter((p) => p.id === 'signups@2');
    expect(signups2).toHaveLength(1);
    expect(signups2[0]!.definition).toBe('count of events where eventType in (signup, upgrade) by (currency)');
  });
});

describe('processes on one storage (model_publications)', () => {
  const v1 = () => compile(DEFAULT);
  const v2 = () => compile(BUMPED);
  const publish = (plan: ModelPlan, role: 'worker' | 'api' | 'embedded', modelPath: string, o: { heartbeatMs?: number; expiryMs?: number } = {}) =>
    publishProcess({ db, plan, role, modelPath, logger, ...o });
  const liveIds = async () => (await livePublications(db)).map((p) => p.processId);

  it('an API started after a worker whose versions it lacks is refused, naming them; its row is marked stopped', async () => {
    const worker = await publish(v2(), 'worker', 'models/v2.yaml');
    const err = await publish(v1(), 'api', 'models/default.yaml').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModelDisagreementError);
    expect((err as Error).message).toMatch(/^the worker computes revenue@2, signups@2, which this API's model \(models\/default\.yaml\) lacks \(worker pid \d+ on .+, model models\/v2\.yaml, seen \d+s ago\): start with a model that has them, or stop that worker first$/);
    expect(await liveIds()).toEqual([worker.processId]);

    // The upgraded API starts beside it; a worker on the old model does not (it lacks what the first worker computes).
    const api = await publish(v2(), 'api', 'models/v2.yaml');
    expect((await liveIds()).sort()).toEqual([worker.processId, api.processId].sort());
    await expect(publish(v1(), 'worker', 'models/default.yaml')).rejects.toThrow(/^the worker computes revenue@2, signups@2, which this worker's model/);

    // Once the worker stopped, the old model may start again (the API computes nothing).
    await worker.stop();
    const oldApi = await publish(v1(), 'api', 'models/default.yaml');
    await api.stop();
    await oldApi.stop();
    expect(await liveIds()).toEqual([]);
  });

  it('a rolling upgrade: a worker with more versions starts beside the old ones', async () => {
    const old = await publish(v1(), 'worker', 'models/default.yaml');
    const upgraded = await publish(v2(), 'worker', 'models/v2.yaml');
    expect((await livePublications(db)).find((p) => p.processId === upgraded.processId)!.computes).toContain('signups@2');
    await old.stop();
    await upgraded.stop();
  });

  it("a dead process (no heartbeat for longer than the expiry) blocks nobody; a live one's heartbeat keeps it", async () => {
    // A worker killed a minute ago: its last row says running, with an old heartbeat.
    await db.insert({
      queryId: 'test.dead',
      table: 'model_publications',
      rows: [{ process_id: 'dead-worker', role: 'worker', host: 'h', pid: 1, model: 'm', model_path: 'models/v2.yaml', model_checksum: '', computes: ['signups@9'], serves: [], started_at: '2026-01-01 00:00:00.000', beat: 7, stopped: 0, heartbeat_at: new Date(Date.now() - 60_000).toISOString().replace('T', ' ').replace('Z', '') }],
    });
    const fine = await publish(v1(), 'api', 'models/default.yaml');
    await fine.stop();
    await expect(publish(v1(), 'api', 'models/default.yaml', { expiryMs: 120_000 })).rejects.toThrow(/^the worker computes signups@9, which this API's model/);

    const beating = await publish(v1(), 'worker', 'models/default.yaml', { heartbeatMs: 100, expiryMs: 500 });
    const seen = async () => (await livePublications(db, 500)).some((p) => p.processId === beating.processId);
    const until = Date.now() + 1_500;
    while (Date.now() < until) expect(await seen()).toBe(true); // alive three expiries long, by its heartbeat
    await beating.stop();
    expect(await seen()).toBe(false);
  });
});

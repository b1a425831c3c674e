/**
 * Query.metrics reports each version as published in storage (definition, checksum,
 * publishedAt from `metric_definitions`), read only when a query asks for those fields; the
 * rest (kind, dimensions, backfill state, dates from the file) costs no read.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileModel } from '../../src/model/compile.ts';
import { startTestApp, type TestApp } from '../helpers/app.ts';
import { waitFor } from '../helpers/wait.ts';

let t: TestApp;
let token: string;
const started = Date.now();

beforeAll(async () => {
  t = await startTestApp({ label: 'catalog-published' });
  token = await t.token('catalog', 'read');
});
afterAll(async () => {
  await t?.app.stop();
});

const reads = async () => (await t.app.metrics.clickhouseQueries.get()).values.filter((v) => v.labels.kind === 'read' && v.labels.query_id === 'definitions.read').reduce((s, v) => s + v.value, 0);

interface Entry { name: string; version: number; definition: string; publishedDefinition: string | null; checksum: string | null; publishedAt: string | null; complete?: boolean; incompleteBefore?: string | null }

describe('the catalog with published definitions', () => {
  it('every metric of the default model, as its start published it', async () => {
    const compiled = compileModel(readFileSync('models/default.yaml', 'utf8'));
    if (!compiled.ok) throw new Error('default model does not compile');
    const before = await reads();
    const res = await t.gql<{ metrics: Entry[] }>(token, '{ metrics(history: true) { name version definition publishedDefinition checksum publishedAt } }');
    expect(res.errors).toBeUndefined();
    expect(await reads()).toBe(before + 1);
    const byName = new Map(res.data!.metrics.map((m) => [m.name, m]));
    expect(byName.get('REVENUE')!.publishedDefinition).toBe('sum(amount) of events where eventType = purchase by (currency)');
    expect(byName.get('ARPU')!.publishedDefinition).toBe('revenue@1 / active_users@1 by (currency); x / 0 = zero');
    expect(byName.get('ARPU')!.definition).toMatch(/half to even/); // generated from the model, as the old hand-written rule said
    for (const m of res.data!.metrics) {
      const d = compiled.plan.definitions.get(`${m.name.toLowerCase()}@${m.version}`)!;
      expect(m.checksum, m.name).toBe(d.checksum);
      expect(m.publishedDefinition, m.name).toBe(d.definition);
      const at = Date.parse(m.publishedAt!);
      expect(at, m.name).toBeGreaterThanOrEqual(started - 1_000);
      expect(at, m.name).toBeLessThanOrEqual(Date.now());
    }
  });

  it('a catalog query without published fields reads nothing from storage', async () => {
    const before = await reads();
    const res = await t.gql<{ metrics: Entry[] }>(token, '{ metrics { name version definition current kind dimensions hidden complete incompleteBefore effectiveFrom supersededOn } }');
    expect(res.data!.metrics).toHaveLength(8);
    for (const m of res.data!.metrics) expect(m.complete, m.name).toBe(m.incompleteBefore === null);
    expect(await reads()).toBe(before);
  });

  it('every version becomes complete once its background backfill has walked the (empty) event log', async () => {
    // Every version is new to a fresh data directory: its background backfill walks the (empty) log, the API's coverage feed follows.
    const all = await waitFor(
      async () => {
        const res = await t.gql<{ metrics: Entry[] }>(token, '{ metrics { name complete incompleteBefore } }');
        return res.data!.metrics.every((m) => m.complete && m.incompleteBefore === null) && res.data!.metrics;
      },
      { timeoutMs: 30_000, intervalMs: 200, what: 'every metric complete' },
    );
    expect(all).toHaveLength(8);
  });
});

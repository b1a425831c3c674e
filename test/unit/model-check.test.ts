/**
 * Model files: the shipped ones compile to the plan the rest reads; bad ones are refused
 * with every error, each with its line, path and reason.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { compileModel } from '../../src/model/compile.ts';
import { changedDefinitions } from '../../src/model/definition.ts';
import type { ModelError, ModelPlan } from '../../src/model/types.ts';
import { runModel, runSchema } from '../../src/cli/model.ts';
import { loadConfig } from '../../src/config/index.ts';

const compile = (text: string): ModelPlan => {
  const r = compileModel(text);
  if (!r.ok) throw new Error(r.errors.map((e) => `${e.line}: ${e.path}: ${e.message}`).join('\n'));
  return r.plan;
};
const errorsOf = (text: string): ModelError[] => {
  const r = compileModel(text);
  if (r.ok) throw new Error('expected the model to be refused');
  return r.errors;
};

/** A small valid model; each bad case below changes one thing. */
const HEAD = `model: t
fields:
  currency: { type: currency, required: true }
  plan: { type: enum, values: [free, pro] }
  note: { type: string }
dimensions:
  currency: { maxValuesPerTenant: 20 }
  plan: { maxValuesPerTenant: 5 }
events:
  purchase: { fields: { amount: { type: decimal, required: true, exclusiveMin: 0 } } }
  signup: {}
metrics:
  - { name: revenue, version: 1, unit: currency, sum: amount, where: { eventType: purchase }, by: [currency, plan] }
  - { name: users, version: 1, unit: users, distinct: userId, by: [currency] }
`;
// HEAD's metrics are on lines 13 and 14: a case's first added line is line 15.

describe('shipped models', () => {
  it('default.yaml reproduces Event v1 and the metrics of today', () => {
    const plan = compile(readFileSync('models/default.yaml', 'utf8'));
    expect([...plan.eventTypes.keys()]).toEqual(['purchase', 'signup', 'churn', 'upgrade']);
    expect(plan.names).toEqual(['revenue', 'purchases', 'signups', 'upgrades', 'churns', 'active_users', 'arpu', 'net_user_change']);
    expect(plan.names.map((n) => n.toUpperCase())).toEqual(expect.arrayContaining(['REVENUE', 'PURCHASES', 'SIGNUPS', 'UPGRADES', 'CHURNS', 'ACTIVE_USERS']));
    expect(plan.measures.map((m) => [m.id, m.kind, m.field ?? null, m.by, m.money])).toEqual([
      ['revenue@1', 'sum', 'amount', ['currency'], true],
      ['purchases@1', 'count', null, ['currency'], false],
      ['signups@1', 'count', null, ['currency'], false],
      ['upgrades@1', 'count', null, ['currency'], false],
      ['churns@1', 'count', null, ['currency'], false],
      ['active_users@1', 'distinct', 'userId', ['currency'], false],
    ]);
    expect(plan.dimensions.get('currency')).toMatchObject({ maxValuesPerTenant: 20, rejectOverBudget: true });
    expect(plan.metric('arpu')).toMatchObject({ kind: 'formula', onZeroDivision: 'zero', by: ['currency'], money: true });
    expect(plan.definitions.get('arpu@1')!.definition).toBe('revenue@1 / active_users@1 by (currency); x / 0 = zero');
    expect(plan.allowedLatenessMs).toBe(10_000);
    expect(plan.staleAfterMs).toBe(30_000);

    // What each measure counts, on events as the validator makes them.
    const ev = (eventType: string, fields: Record<string, string>) => ({ eventType, userId: 'u', tenantId: 't', traceId: 'a'.repeat(32), timestamp: 0, fields, key: 'k', fingerprint: 'f' });
    const purchase = ev('purchase', { amount: '9.99', currency: 'EUR' });
    const upgrade = ev('upgrade', { amount: '5', currency: 'EUR' });
    const counted = (e: ReturnType<typeof ev>) => plan.measures.filter((m) => m.matches(e)).map((m) => m.name);
    expect(counted(purchase)).toEqual(['revenue', 'purchases', 'active_users']);
    expect(counted(upgrade)).toEqual(['upgrades', 'active_users']); // an upgrade's amount is not revenue
    expect(plan.metric('revenue')!.kind === 'sum' && [plan.measures[0]!.valueOf(purchase), plan.measures[0]!.dimsOf(purchase)]).toEqual(['9.99', ['EUR']]);
  });

  it('saas.yaml: plan and country dimensions, net revenue, paying users, trial-to-paid', () => {
    const plan = compile(readFileSync('models/saas.yaml', 'utf8'));
    expect([...plan.dimensions.keys()]).toEqual(['currency', 'plan', 'country']);
    expect(plan.metric('net_revenue')).toMatchObject({ money: true, by: ['currency', 'plan', 'country'] });
    expect(plan.metric('trial_to_paid')).toMatchObject({ money: false, by: ['plan', 'country'] });
    expect(plan.metric('paying_users')).toMatchObject({ kind: 'distinct', field: 'userId' });
    const refund = (reason: string) => ({ eventType: 'refund', userId: 'u', tenantId: 't', traceId: 'a'.repeat(32), timestamp: 0, fields: { amount: '5', currency: 'EUR', plan: 'pro', reason }, key: 'k', fingerprint: 'f' });
    const refunds = plan.measures.find((m) => m.name === 'refunds')!;
    expect([refunds.matches(refund('fraud')), refunds.matches(refund('duplicate'))]).toEqual([true, false]);
    expect(refunds.dimsOf(refund('fraud'))).toEqual(['EUR', 'pro', null]); // no country: a null slice
  });
});

describe('bad models are refused with line, path and reason', () => {
  it.each<[string, string, { line: number; path: string; message: RegExp }]>([
    ['unknown field in sum', `  - { name: x, version: 1, unit: number, sum: price }\n`, { line: 15, path: 'metrics[2].sum', message: /unknown field "price"/ }],
    ['unknown field in where', `  - { name: x, version: 1, unit: count, count: true, where: { colour: red } }\n`, { line: 15, path: 'metrics[2].where.colour', message: /unknown field "colour"/ }],
    ['unknown dimension in by', `  - { name: x, version: 1, unit: count, count: true, by: [country] }\n`, { line: 15, path: 'metrics[2].by[0]', message: /unknown dimension "country"/ }],
    ['field not on the counted event types', `  - { name: x, version: 1, unit: number, sum: amount, where: { eventType: signup } }\n`, { line: 15, path: 'metrics[2].sum', message: /not declared on the event types this metric counts \(signup\)/ }],
    ['sum over a non-numeric field', `  - { name: x, version: 1, unit: number, sum: note }\n`, { line: 15, path: 'metrics[2].sum', message: /sum needs a decimal or integer field: "note" is string/ }],
    ['distinct over a decimal', `  - { name: x, version: 1, unit: users, distinct: amount, where: { eventType: purchase } }\n`, { line: 15, path: 'metrics[2].distinct', message: /distinct counts values of a string field/ }],
    ['money summed without currency in by', `  - { name: x, version: 1, unit: currency, sum: amount, by: [plan] }\n`, { line: 15, path: 'metrics[2].by', message: /sums money .*add currency to by/ }],
    ['a where value outside the enum', `  - { name: x, version: 1, unit: count, count: true, where: { plan: gold } }\n`, { line: 15, path: 'metrics[2].where.plan', message: /"gold" is not one of plan's values \(free, pro\)/ }],
    ['a comparison on a non-number', `  - { name: x, version: 1, unit: count, count: true, where: { plan: { gt: 1 } } }\n`, { line: 15, path: 'metrics[2].where.plan', message: /gt, gte, lt and lte compare numbers/ }],
    ['an unknown event type in where', `  - { name: x, version: 1, unit: count, count: true, where: { eventType: refund } }\n`, { line: 15, path: 'metrics[2].where.eventType', message: /"refund" is not a declared event type/ }],
    ['no kind', `  - { name: x, version: 1, unit: count }\n`, { line: 15, path: 'metrics[2]', message: /needs exactly one of count: true, sum, distinct or formula/ }],
    ['two kinds', `  - { name: x, version: 1, unit: count, count: true, sum: amount }\n`, { line: 15, path: 'metrics[2]', message: /has count and sum/ }],
    ['a formula cycle', `  - { name: a, version: 1, unit: number, formula: b + 1 }\n  - { name: b, version: 1, unit: number, formula: "a * 2" }\n`, { line: 15, path: 'metrics[2].formula', message: /formula cycle: a@1 → b@1 → a@1/ }],
    ['a formula on itself', `  - { name: a, version: 1, unit: number, formula: a + 1 }\n`, { line: 15, path: 'metrics[2].formula', message: /formula cycle: a@1 → a@1/ }],
    ['an unknown formula operand', `  - { name: a, version: 1, unit: number, formula: revenue / payers }\n`, { line: 15, path: 'metrics[2].formula', message: /unknown metric "payers"/ }],
    ['an unknown operand version', `  - { name: a, version: 1, unit: number, formula: revenue@2 / users }\n`, { line: 15, path: 'metrics[2].formula', message: /metric revenue has no version 2 \(versions in the file: 1\)/ }],
    ['a formula syntax error', `  - { name: a, version: 1, unit: number, formula: "revenue / (users" }\n`, { line: 15, path: 'metrics[2].formula', message: /missing "\)"/ }],
    ['a formula filter on a dimension one operand lacks', `  - { name: a, version: 1, unit: currency per user, formula: revenue / users, where: { plan: pro } }\n`, { line: 15, path: 'metrics[2].where.plan', message: /filters on plan, but operand users@1 has no plan in by/ }],
    ['a formula breakdown on a dimension one operand lacks', `  - { name: a, version: 1, unit: currency per user, formula: revenue / users, by: [currency, plan] }\n`, { line: 15, path: 'metrics[2].by[1]', message: /cannot be broken down by plan: operand users@1 has no plan in by/ }],
    ['money whose operands share no currency', `  - { name: n, version: 1, unit: count, count: true, by: [plan] }\n  - { name: a, version: 1, unit: currency, formula: revenue / n }\n`, { line: 16, path: 'metrics[3].formula', message: /is money, but operand n@1 has no currency in by/ }],
    ['a money formula whose by drops currency', `  - { name: a, version: 1, unit: currency per user, formula: revenue / users, by: [] }\n`, { line: 15, path: 'metrics[2].by', message: /a@1 is money: keep currency in by/ }],
    ['duplicate version', `  - { name: revenue, version: 1, unit: currency, sum: amount, by: [currency] }\n`, { line: 15, path: 'metrics[2].version', message: /duplicate metric revenue version 1 \(first at line 13\).*give this one version 2/ }],
    ['a bad name', `  - { name: Revenue2, version: 1, unit: currency, sum: amount, by: [currency] }\n`, { line: 15, path: 'metrics[2].name', message: /must match/ }],
    ['a misspelt key', `  - { name: x, version: 1, unit: count, count: true, wehre: { plan: pro } }\n`, { line: 15, path: 'metrics[2]', message: /unknown key "wehre"/ }],
    ['a bad unit', `  - { name: x, version: 1, unit: dollars, count: true }\n`, { line: 15, path: 'metrics[2].unit', message: /must be count, users, currency/ }],
  ])('%s', (_, extra, expected) => {
    const errors = errorsOf(HEAD + extra);
    expect(errors).toContainEqual(expect.objectContaining({ line: expected.line, path: expected.path, message: expect.stringMatching(expected.message) }));
  });

  it('budgets that multiply past maxSeriesPerMetric (per metric and tenant)', () => {
    const text = (limit: number) =>
      HEAD.replace('model: t', `model: t\nmaxSeriesPerMetric: ${limit}`).replace('  plan: { maxValuesPerTenant: 5 }', '  plan: { maxValuesPerTenant: 5 }\n  note: { maxValuesPerTenant: 100 }') +
      '  - { name: x, version: 1, unit: count, count: true, by: [currency, plan, note] }\n';
    // currency 20 (required, rejected over budget) × plan 2 values + null × note 100 + other + null = 20 × 3 × 102
    expect(errorsOf(text(6119))).toEqual([
      expect.objectContaining({ line: 17, path: 'metrics[2].by', message: expect.stringContaining('x@1 may store 6120 series per tenant (currency 20 × plan 3 (2 + null) × note 102 (100 + other + null)), more than maxSeriesPerMetric 6119') }),
    ]);
    expect(compile(text(6120)).metric('x')!.by).toEqual(['currency', 'plan', 'note']);
    // Default limit: 10,000.
    expect(errorsOf(text(10_000).replace(/maxSeriesPerMetric: \d+\n/, '').replace('note: { maxValuesPerTenant: 100 }', 'note: { maxValuesPerTenant: 200 }'))[0]!.message).toMatch(/12120 series .* more than maxSeriesPerMetric 10000/);
  });

  it('YAML errors carry their line', () => {
    const errors = errorsOf('model: t\nfields:\n  a: { type: decimal\nevents: {}\n');
    expect(errors[0]).toMatchObject({ line: expect.any(Number), path: '' });
    expect(errorsOf('model: t\nmodel: u\nevents: { a: {} }\nmetrics: []\n')[0]).toMatchObject({ line: 2, message: expect.stringMatching(/unique/) });
  });

  it('reports every error at once, a bad entry not hiding the others', () => {
    const errors = errorsOf(
      HEAD.replace('  note: { type: string }', '  note: { type: text }') +
        '  - { name: x, version: 1, unit: count, count: true, by: [planet] }\n  - { name: y, version: 1, unit: number, sum: note }\n  - { name: z, version: 1, unit: number, formula: ghost + 1 }\n',
    );
    expect(errors.map((e) => [e.line, e.path])).toEqual([
      [5, 'fields.note.type'],
      [15, 'metrics[2].by[0]'],
      [17, 'metrics[4].formula'],
    ]); // y's sum over the broken field "note" is not reported twice
  });
});

describe('versions and canonical definitions', () => {
  const defOf = (text: string, id: string) => compile(text).definitions.get(id)!;
  const withRevenue = (line: string) => HEAD.replace(/ {2}- \{ name: revenue.*\n/, line);

  it('the checksum covers what decides the numbers, not the description', () => {
    const a = defOf(HEAD, 'revenue@1');
    expect(a.definition).toBe('sum(amount) of events where eventType = purchase by (currency, plan)');
    expect(a.checksum).toMatch(/^[0-9a-f]{64}$/);
    expect(defOf(withRevenue('  - { name: revenue, version: 1, unit: currency, description: Money., sum: amount, where: { eventType: purchase }, by: [currency, plan] }\n'), 'revenue@1').checksum).toBe(a.checksum);
    expect(defOf(withRevenue('  - { name: revenue, version: 1, unit: currency, sum: amount, where: { eventType: [purchase] }, by: [currency, plan] }\n'), 'revenue@1').checksum).toBe(a.checksum);
    for (const changed of [
      '  - { name: revenue, version: 1, unit: currency, sum: amount, by: [currency, plan] }\n',
      '  - { name: revenue, version: 1, unit: currency, sum: amount, where: { eventType: purchase }, by: [plan, currency] }\n',
      '  - { name: revenue, version: 1, unit: currency, sum: amount, where: { eventType: purchase, plan: pro }, by: [currency, plan] }\n',
    ]) {
      expect(defOf(withRevenue(changed), 'revenue@1').checksum, changed).not.toBe(a.checksum);
    }
  });

  it('formula operands are pinned: the highest version in the file, or the versions given', () => {
    const text = `${HEAD}  - { name: revenue, version: 2, unit: currency, sum: amount, by: [currency, plan] }\n  - { name: arppu, version: 1, unit: currency per user, formula: revenue / users }\n`;
    const plan = compile(text);
    expect(plan.metric('revenue')!.version).toBe(2);
    expect(plan.versions.map((v) => [v.id, v.current])).toEqual([['revenue@1', false], ['users@1', true], ['revenue@2', true], ['arppu@1', true]]);
    expect(plan.definitions.get('arppu@1')!.definition).toBe('revenue@2 / users@1 by (currency); x / 0 = null');
  });
});

describe('changedDefinitions (what a process compares with what storage recorded)', () => {
  const publish = (text: string) => [...compile(text).definitions.values()].map((d) => ({ ...d, publishedAt: '2026-11-01' }));
  const formula = '  - { name: arppu, version: 1, unit: currency per user, formula: revenue / users }\n';
  const published = publish(HEAD + formula);

  it('nothing changed, or only a description: nothing to report', () => {
    expect(changedDefinitions(compile(HEAD + formula), published)).toEqual([]);
    expect(changedDefinitions(compile(HEAD.replace('unit: users,', 'unit: users, description: People.,') + formula), published)).toEqual([]);
  });

  it('a changed rule under the same version is reported with the version to give it', () => {
    const changed = HEAD.replace('where: { eventType: purchase }, by: [currency, plan]', 'by: [currency, plan]') + formula;
    expect(changedDefinitions(compile(changed), published)).toEqual([
      {
        id: 'revenue@1',
        message:
          'metric revenue v1 changed since it was published on 2026-11-01: give it version 2 (published: sum(amount) of events where eventType = purchase by (currency, plan); now: sum(amount) of events by (currency, plan))',
      },
    ]);
  });

  it("a new version of an operand does not change a published formula (its operands stay pinned)", () => {
    const text = `${HEAD}  - { name: revenue, version: 2, unit: currency, sum: amount, by: [currency, plan] }\n${formula}`;
    expect(compile(text).definitions.get('arppu@1')!.definition).toMatch(/^revenue@2/); // unpublished: pinned to the current version
    expect(changedDefinitions(compile(text), published)).toEqual([]);
    expect(published.find((d) => d.id === 'arppu@1')!.pins).toEqual({ revenue: 1, users: 1 });
  });
});

describe('tilecast model check', () => {
  it('prints a summary and exits 0 for a valid model; every error and exits 1 otherwise', async () => {
    const out: string[] = [];
    const err: string[] = [];
    expect(await runModel(['check', 'models/saas.yaml'], (l) => out.push(l), (l) => err.push(l))).toBe(0);
    expect(out[0]).toBe('models/saas.yaml: model "saas-metrics" is valid');
    expect(out.join('\n')).toMatch(/11 metric versions: 8 stored, 3 formulas/);
    expect(err).toEqual([]);
    expect(await runModel(['check', 'models/missing.yaml'], (l) => out.push(l), (l) => err.push(l))).toBe(1);
    expect(err).toEqual(['models/missing.yaml: cannot read models/missing.yaml: ENOENT', 'models/missing.yaml: 1 error']);
  });

  it('reads TILECAST_MODEL (default models/default.yaml); schema events prints the JSON Schema', async () => {
    expect(loadConfig({}).model.path).toBe('models/default.yaml');
    expect(loadConfig({ TILECAST_MODEL: 'models/saas.yaml' }).model.path).toBe('models/saas.yaml');
    const out: string[] = [];
    expect(await runSchema(['events', '--model', 'models/saas.yaml'], (l) => out.push(l))).toBe(0);
    expect((JSON.parse(out.join('\n')) as { properties: { eventType: { enum: unknown[] } } }).properties.eventType.enum).toHaveLength(5);
  });
});

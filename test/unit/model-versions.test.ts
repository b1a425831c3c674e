/**
 * Issue 14 items 5 and 7, the pure rules: a model checked against the versions storage
 * published (src/model/published.ts), and the agreement of processes on one storage
 * (src/storage/publications.ts `disagreements`).
 */
import { describe, expect, it } from 'vitest';
import { compileModel } from '../../src/model/compile.ts';
import type { PublishedDefinition } from '../../src/model/definition.ts';
import { printFormula } from '../../src/model/formula.ts';
import { publicationProblems, withPublishedPins } from '../../src/model/published.ts';
import type { FormulaVersion, ModelPlan } from '../../src/model/types.ts';
import { disagreements, publicationOf, type LivePublication } from '../../src/storage/publications.ts';

const compile = (text: string): ModelPlan => {
  const r = compileModel(text);
  if (!r.ok) throw new Error(r.errors.map((e) => `${e.line}: ${e.path}: ${e.message}`).join('\n'));
  return r.plan;
};

const HEAD = `model: t
fields:
  currency: { type: currency, required: true }
dimensions:
  currency: { maxValuesPerTenant: 20 }
events:
  purchase: { fields: { amount: { type: decimal, required: true, exclusiveMin: 0 } } }
  refund: { fields: { amount: { type: decimal, required: true, exclusiveMin: 0 } } }
  signup: {}
metrics:
`;
const GROSS = '  - { name: gross_revenue, version: 1, unit: currency, sum: amount, where: { eventType: purchase }, by: [currency] }\n';
const REFUNDS = '  - { name: refunds, version: 1, unit: currency, sum: amount, where: { eventType: refund }, by: [currency] }\n';
const REFUNDS_2 = '  - { name: refunds, version: 2, unit: currency, sum: amount, where: { eventType: [refund, purchase] }, by: [currency] }\n';
const NET = '  - { name: net_revenue, version: 1, unit: currency, formula: gross_revenue - refunds }\n';
const SIGNUPS = '  - { name: signups, version: 1, unit: count, count: true, where: { eventType: signup }, by: [currency] }\n';
const BASE = HEAD + GROSS + REFUNDS + NET + SIGNUPS;

const publish = (text: string, on = '2026-12-03'): PublishedDefinition[] => [...compile(text).definitions.values()].map((d) => ({ ...d, publishedAt: on }));
const netOf = (plan: ModelPlan) => plan.metric('net_revenue', 1) as FormulaVersion;

describe('a model against the published versions', () => {
  const published = publish(BASE);
  const cases: { name: string; text: string; problems: (string | RegExp)[] }[] = [
    { name: 'the same definitions', text: BASE, problems: [] },
    { name: 'only a description added', text: BASE.replace('unit: count, count', 'unit: count, description: New users., count'), problems: [] },
    {
      name: 'a changed where under the same version',
      text: BASE.replace('where: { eventType: purchase }', 'where: { eventType: [purchase, signup] }'),
      problems: [/^metric gross_revenue v1 changed since it was published on 2026-12-03: give it version 2 \(published: sum\(amount\) of events where eventType = purchase by \(currency\); now: /],
    },
    { name: 'a new version of a metric', text: BASE + REFUNDS_2, problems: [] },
    { name: 'a new metric', text: `${BASE}  - { name: purchases, version: 1, unit: count, count: true, where: { eventType: purchase }, by: [currency] }\n`, problems: [] },
    { name: 'a published version removed', text: HEAD + GROSS + REFUNDS + NET, problems: [] },
    {
      name: "a formula's pinned operand removed",
      text: HEAD + GROSS + REFUNDS_2 + NET + SIGNUPS,
      problems: ['metric net_revenue v1 was published as gross_revenue@1 - refunds@1 by (currency), and this model lacks refunds@1: keep it in the file, or give net_revenue a new version'],
    },
  ];
  for (const c of cases) {
    it(`${c.name}: ${c.problems.length ? 'refused' : 'fine'}`, () => {
      const problems = publicationProblems(compile(c.text), published);
      expect(problems).toHaveLength(c.problems.length);
      c.problems.forEach((p, i) => (typeof p === 'string' ? expect(problems[i]).toBe(p) : expect(problems[i]).toMatch(p)));
    });
  }

  it('a changed definition is refused also when a version was added beside it, naming the next free version', () => {
    const text = BASE.replace('where: { eventType: refund }', 'where: { eventType: [refund, purchase] }') + REFUNDS_2;
    expect(publicationProblems(compile(text), published)).toEqual([expect.stringMatching(/^metric refunds v1 changed since it was published on 2026-12-03: give it version 3 /)]);
  });
});

describe('published formulas keep their operand versions', () => {
  it('gross_revenue@1 - refunds@1 stays pinned when the file adds refunds@2', () => {
    const plan = compile(BASE + REFUNDS_2);
    // Unpublished, the file pins unpinned operands to their current version …
    expect(printFormula(netOf(plan).pinned)).toBe('gross_revenue@1 - refunds@2');
    // … published, the plan a process runs evaluates what was published.
    const published = publish(BASE);
    expect(publicationProblems(plan, published)).toEqual([]);
    const run = withPublishedPins(plan, published);
    expect(printFormula(netOf(run).pinned)).toBe('gross_revenue@1 - refunds@1');
    expect(printFormula((run.metric('net_revenue') as FormulaVersion).pinned)).toBe('gross_revenue@1 - refunds@1');
    expect(run.versions.find((v) => v.id === 'net_revenue@1')).toBe(netOf(run));
    expect(run.definitions.get('net_revenue@1')).toEqual({ id: 'net_revenue@1', definition: 'gross_revenue@1 - refunds@1 by (currency)', checksum: published.find((p) => p.id === 'net_revenue@1')!.checksum, pins: { gross_revenue: 1, refunds: 1 } });
    // Nothing else changes; measures are the same objects.
    expect(run.measures).toBe(plan.measures);
    expect(run.metric('refunds')).toBe(plan.metric('refunds'));
  });

  it('a new version of the formula pins the current operands', () => {
    const plan = compile(`${BASE + REFUNDS_2}  - { name: net_revenue, version: 2, unit: currency, formula: gross_revenue - refunds }\n`);
    const run = withPublishedPins(plan, publish(BASE));
    expect(printFormula((run.metric('net_revenue', 2) as FormulaVersion).pinned)).toBe('gross_revenue@1 - refunds@2');
    expect(printFormula((run.metric('net_revenue', 1) as FormulaVersion).pinned)).toBe('gross_revenue@1 - refunds@1');
  });

  it('nothing published: the plan itself', () => {
    const plan = compile(BASE);
    expect(withPublishedPins(plan, [])).toBe(plan);
  });
});

describe('processes on one storage agree (the one that starts second refuses when it lacks a version the other computes)', () => {
  const v1 = compile(BASE);
  const v2 = compile(BASE.replace(SIGNUPS, `${SIGNUPS}  - { name: signups, version: 2, unit: count, count: true, where: { eventType: [signup, purchase] }, by: [currency] }\n`));
  const running = (plan: ModelPlan, role: LivePublication['role'], modelPath: string): LivePublication => ({
    processId: `${role}-1`,
    role,
    host: 'h1',
    pid: 41,
    modelPath,
    computes: publicationOf(plan, role).computes,
    startedAtMs: 0,
    ageMs: 3_000,
  });
  const start = (plan: ModelPlan, role: LivePublication['role'], modelPath: string, earlier: LivePublication[]) =>
    disagreements({ role, modelPath, versions: plan.versions.map((v) => v.id) }, earlier);

  it('what each role computes and serves', () => {
    expect(publicationOf(v1, 'worker')).toEqual({ computes: ['gross_revenue@1', 'refunds@1', 'signups@1'], serves: [] });
    expect(publicationOf(v1, 'api')).toEqual({ computes: [], serves: ['gross_revenue@1', 'refunds@1', 'net_revenue@1', 'signups@1'] });
    expect(publicationOf(v1, 'embedded').computes).toEqual(publicationOf(v1, 'worker').computes);
  });

  it('an API lacking a version the worker computes is refused, naming it', () => {
    expect(start(v1, 'api', 'models/x.yaml', [running(v2, 'worker', 'models/y.yaml')])).toEqual([
      "the worker computes signups@2, which this API's model (models/x.yaml) lacks (worker pid 41 on h1, model models/y.yaml, seen 3s ago): start with a model that has it, or stop that worker first",
    ]);
  });

  it('a worker lacking what another worker computes is refused; one with more versions starts (a rolling upgrade)', () => {
    expect(start(v1, 'worker', 'models/x.yaml', [running(v2, 'worker', 'models/y.yaml')])).toEqual([expect.stringMatching(/^the worker computes signups@2, which this worker's model \(models\/x\.yaml\) lacks/)]);
    expect(start(v2, 'worker', 'models/y.yaml', [running(v1, 'worker', 'models/x.yaml')])).toEqual([]);
    expect(start(v2, 'api', 'models/y.yaml', [running(v1, 'worker', 'models/x.yaml'), running(v1, 'api', 'models/x.yaml')])).toEqual([]);
  });

  it('an API computes nothing: any worker may start beside it; the same model agrees', () => {
    expect(start(v1, 'worker', 'models/x.yaml', [running(v2, 'api', 'models/y.yaml')])).toEqual([]);
    expect(start(v2, 'worker', 'models/y.yaml', [running(v2, 'worker', 'models/y.yaml'), running(v2, 'embedded', 'models/y.yaml')])).toEqual([]);
  });

  it('every disagreeing process is listed, each with all it computes that is lacked', () => {
    const bare = compile(HEAD + GROSS);
    const problems = start(bare, 'api', 'models/bare.yaml', [running(v1, 'worker', 'models/x.yaml'), running(v2, 'embedded', 'models/y.yaml')]);
    expect(problems).toHaveLength(2);
    expect(problems[0]).toMatch(/^the worker computes refunds@1, signups@1, which this API's model \(models\/bare\.yaml\) lacks .*start with a model that has them/);
    expect(problems[1]).toMatch(/^the all-in-one process \(tilecast start\) computes refunds@1, signups@1, signups@2, which/);
  });
});

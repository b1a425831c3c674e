/**
 * The GraphQL generated from a metric model: `tilecast schema print --model FILE` prints
 * the model's enums and fields, and the default model's SDL is the committed schema.graphql.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { compileModel } from '../../src/model/compile.ts';
import { buildSchema, printedSchema } from '../../src/schema/index.ts';

const run = promisify(execFile);
const plan = (file: string) => {
  const r = compileModel(readFileSync(file, 'utf8'));
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  return r.plan;
};
const enumValues = (sdl: string, name: string) =>
  sdl
    .match(new RegExp(`enum ${name} \\{([^}]*)\\}`))![1]!
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => /^[A-Z_]+$/.test(l));

describe('schema print --model', () => {
  it('prints the SDL of models/saas.yaml with its metrics and dimensions as enums', async () => {
    const { stdout } = await run(process.execPath, ['bin/tilecast.js', 'schema', 'print', '--model', 'models/saas.yaml'], { env: { ...process.env, LOG_LEVEL: 'silent' } });
    expect(enumValues(stdout, 'ModelMetric')).toEqual(['ARPPU', 'CHURNS', 'GROSS_REVENUE', 'NET_REVENUE', 'NEW_SUBSCRIPTIONS', 'PAYING_USERS', 'REFUNDS', 'RENEWALS', 'TRIALS', 'TRIAL_CONVERSIONS', 'TRIAL_TO_PAID']);
    expect(enumValues(stdout, 'ModelDimension')).toEqual(['COUNTRY', 'CURRENCY', 'PLAN']);
    expect(stdout).toContain('metricSeries(input: MetricSeriesInput!): MetricSeries!');
    expect(stdout).toContain('metricBreakdown(input: MetricBreakdownInput!): MetricBreakdown!');
    expect(stdout).toContain('where: [DimensionFilter!]');
    expect(stdout).toBe(printedSchema(buildSchema(plan('models/saas.yaml'))));
  });

  it('the default model’s SDL is schema.graphql, and keeps every type of the other model too', () => {
    const sdl = printedSchema(buildSchema(plan('models/default.yaml')));
    expect(sdl).toBe(readFileSync('schema.graphql', 'utf8'));
    expect(enumValues(sdl, 'ModelMetric')).toEqual(['ACTIVE_USERS', 'ARPU', 'CHURNS', 'NET_USER_CHANGE', 'PURCHASES', 'REVENUE', 'SIGNUPS', 'UPGRADES']);
    expect(enumValues(sdl, 'ModelDimension')).toEqual(['CURRENCY']);
  });

  it('leaves hidden metrics out of the enum (still usable as operands)', () => {
    const text = readFileSync('models/saas.yaml', 'utf8').replace('description: Money paid back.', 'description: Money paid back.\n    hidden: true');
    const r = compileModel(text);
    expect(r.ok).toBe(true);
    const sdl = printedSchema(buildSchema((r as { ok: true; plan: ReturnType<typeof plan> }).plan));
    expect(enumValues(sdl, 'ModelMetric')).not.toContain('REFUNDS');
    expect(enumValues(sdl, 'ModelMetric')).toContain('NET_REVENUE');
  });
});

/** Derived metrics from exact values: half-even division, ARPU and net user change (the default model's formulas), change ratios */
import { beforeAll, describe, expect, it } from 'vitest';
import { divideHalfEven } from '../../src/contracts/decimal.ts';
import { requireModel } from '../../src/model/compile.ts';
import { evaluateFormula } from '../../src/model/evaluate.ts';
import type { ModelPlan } from '../../src/model/types.ts';
import { changeRatio, difference, divideDecimals } from '../../src/resolvers/derived.ts';

let plan: ModelPlan;
beforeAll(async () => {
  plan = await requireModel('models/default.yaml');
});

/** The default model's formula `name` over stored values (absent = nothing stored = 0), as derivedSeries evaluates it. */
function metricValue(name: 'arpu' | 'net_user_change', row: Partial<Record<'revenue' | 'signups' | 'churns' | 'active_users', string>> | null): string | null {
  const f = plan.metric(name)!;
  if (f.kind !== 'formula') throw new Error(`${name} is not a formula`);
  return evaluateFormula(f.pinned, (o) => row?.[o.name as keyof typeof row] ?? '0', f.onZeroDivision);
}

describe('divideHalfEven', () => {
  const cases: [bigint, bigint, bigint][] = [
    [10n, 4n, 2n], // 2.5 → 2 (even)
    [14n, 4n, 4n], // 3.5 → 4 (even)
    [11n, 4n, 3n], // 2.75 → 3
    [9n, 4n, 2n], // 2.25 → 2
    [-10n, 4n, -2n],
    [-14n, 4n, -4n],
    [-11n, 4n, -3n],
    [10n, -4n, -2n],
    [7n, 7n, 1n],
    [0n, 3n, 0n],
  ];
  it.each(cases)('%s / %s = %s', (a, b, q) => expect(divideHalfEven(a, b)).toBe(q));
  it('refuses division by zero', () => expect(() => divideHalfEven(1n, 0n)).toThrow(RangeError));
});

describe('derived metrics', () => {
  it('ARPU divides exact revenue by distinct users, 6 digits half-even', () => {
    expect(metricValue('arpu', { revenue: '100', active_users: '3' })).toBe('33.333333');
    expect(metricValue('arpu', { revenue: '200', active_users: '3' })).toBe('66.666667');
    expect(metricValue('arpu', { revenue: '0.000005', active_users: '2' })).toBe('0.000002'); // 2.5 micro → 2 (even)
    expect(metricValue('arpu', { revenue: '0.000007', active_users: '2' })).toBe('0.000004'); // 3.5 micro → 4 (even)
    // Far beyond float precision: 2^60 + 1 micro-units over 3 users.
    expect(metricValue('arpu', { revenue: '1152921504606.846977', active_users: '3' })).toBe('384307168202.282326');
    expect(metricValue('arpu', { active_users: '0' })).toBe('0'); // onZeroDivision: zero keeps the field non-null
    expect(metricValue('arpu', null)).toBe('0');
  });

  it('NET_USER_CHANGE = signups − churns, negative too', () => {
    expect(metricValue('net_user_change', { signups: '5', churns: '8' })).toBe('-3');
    expect(metricValue('net_user_change', { signups: '8', churns: '5' })).toBe('3');
  });

  it('compares periods exactly', () => {
    expect(difference('10.5', '12.25')).toBe('-1.75');
    expect(changeRatio('150', '100')).toBe('0.5');
    expect(changeRatio('1', '3')).toBe('-0.666667');
    expect(changeRatio('5', '0')).toBeNull();
    expect(divideDecimals('1', '8')).toBe('0.125');
    expect(divideDecimals('0.000001', '2')).toBe('0'); // 0.5 micro → 0 (even)
  });
});

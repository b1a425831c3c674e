/**
 * The event log's text form of declared fields (src/model/event-fields.ts): every type to
 * text and back to the value the validator gave, so a logged event reads as the live one;
 * and Event v1's columns taken from the fields.
 */
import { describe, expect, it } from 'vitest';
import { compileModel } from '../../src/model/compile.ts';
import { fieldCodec, fieldsOfColumns } from '../../src/model/event-fields.ts';
import { loadPlan } from '../helpers/model.ts';

const compiled = compileModel(`
model: every-type
fields:
  currency: { type: currency }
  amount: { type: decimal }
events:
  visit:
    fields:
      seconds: { type: integer }
      returning: { type: boolean }
      plan: { type: enum, values: [free, pro] }
      note: { type: string }
metrics:
  - { name: visits, version: 1, unit: count, count: true }
`);
if (!compiled.ok) throw new Error(JSON.stringify(compiled.errors));
const plan = compiled.plan;
const codec = fieldCodec(plan);
const visit = { eventType: 'visit', userId: 'u', tenantId: 't', traceId: 'ab'.repeat(16), timestamp: 1 };

describe('fields as text and back', () => {
  it.each<[string, Record<string, unknown>, Record<string, string>]>([
    ['an integer', { seconds: -42 }, { seconds: '-42' }],
    ['a big integer', { seconds: 9_007_199_254_740_991 }, { seconds: '9007199254740991' }],
    ['booleans', { returning: false }, { returning: 'false' }],
    ['a decimal (canonical)', { amount: '12.50' }, { amount: '12.5' }],
    ['a currency, an enum', { currency: 'JPY', plan: 'pro' }, { currency: 'JPY', plan: 'pro' }],
    ['strings that look like other types', { note: 'true' }, { note: 'true' }],
    ['a number-like string', { note: '0042' }, { note: '0042' }],
    ['an empty string', { note: '' }, { note: '' }],
  ])('%s', (_, given, text) => {
    const r = plan.validate({ ...visit, ...given });
    if (!r.ok) throw new Error(JSON.stringify(r.issues));
    expect(Object.fromEntries(Object.entries(r.event.fields).map(([k, v]) => [k, codec.textOf(v)]))).toEqual(text);
    expect(codec.fromText(text)).toEqual(r.event.fields);
  });

  it('a field the model no longer declares, or text that is not its type, stays text', () => {
    expect(codec.fromText({ gone: '5', seconds: '1.5', returning: 'yes' })).toEqual({ gone: '5', seconds: '1.5', returning: 'yes' });
  });
});

describe("Event v1's columns", () => {
  it('currency and amount come from the fields of those names and types', () => {
    expect(codec.columns({ currency: 'EUR', amount: '3' })).toEqual({ currency: 'EUR', amount: '3' });
    expect(codec.columns({ plan: 'pro' })).toEqual({ currency: '' });
    const noMoney = compileModel('model: m\nevents:\n  e: { fields: { amount: { type: integer }, currency: { type: string } } }\nmetrics:\n  - { name: n, version: 1, unit: count, count: true }\n');
    if (!noMoney.ok) throw new Error(JSON.stringify(noMoney.errors));
    expect(fieldCodec(noMoney.plan).columns({ amount: 5, currency: 'EUR' })).toEqual({ currency: '' });
    expect(fieldCodec(loadPlan()).columns({ amount: '1.5', currency: 'USD' })).toEqual({ currency: 'USD', amount: '1.5' });
  });

  it("a row without a fields map reads as Event v1's fields", () => {
    expect(fieldsOfColumns('EUR', '12.500000')).toEqual({ currency: 'EUR', amount: '12.5' });
    expect(fieldsOfColumns('USD', null)).toEqual({ currency: 'USD' });
    expect(fieldsOfColumns('', null)).toEqual({});
  });
});

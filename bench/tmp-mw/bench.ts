import { createWindowEngine, type WindowEvent } from '../../src/aggregate/window-engine.ts';
import { createCellApplier } from '../../src/aggregate/model-cells.ts';
import { createDimensionBudget } from '../../src/aggregate/dimension-budget.ts';
import { requireModel } from '../../src/model/compile.ts';

const N = 300_000;
const T0 = Date.UTC(2026, 10, 1);
const types = ['purchase', 'signup', 'upgrade', 'churn'] as const;
const saasTypes = ['trial_started', 'subscription_started', 'renewal', 'refund', 'churn'];
function events(saas: boolean, withFields: boolean): WindowEvent[] {
  return Array.from({ length: N }, (_, i) => {
    const eventType = (saas ? saasTypes[i % 5] : types[i % 4]) as WindowEvent['eventType'];
    const amount = `${i % 1000}.${i % 100}`.replace(/^0\.0$/, '1');
    const e: WindowEvent = { key: `k${i}`, eventType, userId: `u${i % 500}`, tenantId: `t${i % 10}`, currency: i % 3 ? 'USD' : 'EUR', traceId: 'ab'.repeat(16), timestamp: T0 + i * 20, ...(saas || eventType === 'purchase' ? { amount: amount === '0.0' ? '1' : amount } : {}) };
    if (saas) e.fields = { currency: e.currency, plan: ['starter', 'pro', 'enterprise'][i % 3]!, country: `C${i % 60}`, ...(!['trial_started', 'churn'].includes(eventType) ? { amount: e.amount! } : {}), ...(i % 2 ? { from_trial: true } : {}) };
    else if (withFields) e.fields = { currency: e.currency, ...(e.amount ? { amount: e.amount } : {}) };
    return e;
  });
}
async function run(label: string, model: string | null, saas: boolean, withFields = false) {
  const evs = events(saas, withFields);
  const best: number[] = [];
  for (let rep = 0; rep < 4; rep++) {
    const plan = model ? await requireModel(model) : null;
    const cells = plan ? createCellApplier(plan, createDimensionBudget(plan)) : undefined;
    const engine = createWindowEngine({ allowedLatenessMs: 10_000, cells });
    const t = process.hrtime.bigint();
    for (const e of evs) engine.add(e, e.timestamp);
    best.push(Number(process.hrtime.bigint() - t) / 1000 / N);
  }
  console.log(label.padEnd(48), Math.min(...best).toFixed(3), 'µs/event (best of 4)');
}
async function main() {
  await run('default events, no cells', null, false);
  await run('default events, default model (adapter copy)', 'models/default.yaml', false);
  await run('default events with fields, default model', 'models/default.yaml', false, true);
  await run('saas events, no cells', null, true);
  await run('saas events, saas model', 'models/saas.yaml', true);
}
void main();

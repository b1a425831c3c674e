import { createWindowEngine, type WindowEvent } from '../../src/aggregate/window-engine.ts';
import { createCellApplier } from '../../src/aggregate/model-cells.ts';
import { createDimensionBudget } from '../../src/aggregate/dimension-budget.ts';
import { requireModel } from '../../src/model/compile.ts';
const N = 300_000;
const T0 = Date.UTC(2026, 10, 1);
const saasTypes = ['trial_started', 'subscription_started', 'renewal', 'refund', 'churn'];
async function main() {
  const model = process.argv[2] ?? 'models/saas.yaml';
  const saas = model.includes('saas');
  const plan = await requireModel(model);
  const evs: WindowEvent[] = Array.from({ length: N }, (_, i) => {
    const eventType = (saas ? saasTypes[i % 5] : ['purchase', 'signup', 'upgrade', 'churn'][i % 4]) as WindowEvent['eventType'];
    const amount = `${1 + (i % 1000)}.${i % 100}`;
    const e: WindowEvent = { key: `k${i}`, eventType, userId: `u${i % 500}`, tenantId: `t${i % 10}`, currency: i % 3 ? 'USD' : 'EUR', traceId: 'ab'.repeat(16), timestamp: T0 + i * 20, amount };
    e.fields = saas ? { currency: e.currency, plan: ['starter', 'pro', 'enterprise'][i % 3]!, country: `C${i % 60}`, amount, ...(i % 2 ? { from_trial: true } : {}) } : { currency: e.currency, amount };
    return e;
  });
  const best = { plain: Infinity, cells: Infinity };
  for (let rep = 0; rep < 10; rep++) for (const withCells of [false, true]) {
    const cells = withCells ? createCellApplier(plan, createDimensionBudget(plan)) : undefined;
    const engine = createWindowEngine({ allowedLatenessMs: 10_000, cells });
    const t = process.cpuUsage();
    for (const e of evs) engine.add(e, e.timestamp);
    const k = withCells ? 'cells' : 'plain';
    best[k] = Math.min(best[k], ((u) => u.user + u.system)(process.cpuUsage(t)) / N);
  }
  console.log(model, 'best of 10: plain', best.plain.toFixed(3), 'cells', best.cells.toFixed(3), 'added', (best.cells - best.plain).toFixed(3), 'µs/event');
}
void main();

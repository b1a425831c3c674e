/**
 * What the model's cells cost the window engine: CPU per event of `engine.add` without
 * cells and with the cells of a model (models/default.yaml and models/saas.yaml), for the
 * same 300,000 events carrying their declared fields. Pure, no I/O. Not a test: it prints
 * figures.
 *
 *   node --import tsx bench/model-cells.ts [models/x.yaml …]
 *
 * CPU time (process.cpuUsage), best of 10 rounds taken in turn (plain, cells, plain, …), so
 * a load spike on a shared machine does not land on one side only.
 */
import { createDimensionBudget } from '../src/aggregate/dimension-budget.ts';
import { createCellApplier } from '../src/aggregate/model-cells.ts';
import { createWindowEngine, type WindowEvent } from '../src/aggregate/window-engine.ts';
import { requireModel } from '../src/model/compile.ts';
import type { FieldValue, ModelPlan } from '../src/model/types.ts';

const N = 300_000;
const ROUNDS = 10;
const T0 = Date.UTC(2026, 10, 1);

/** Events of the model's types, each declared field present: enums cycle through their values, strings through 60. */
function eventsOf(plan: ModelPlan): WindowEvent[] {
  const types = [...plan.eventTypes.values()];
  return Array.from({ length: N }, (_, i) => {
    const type = types[i % types.length]!;
    const fields: Record<string, FieldValue> = {};
    for (const f of type.fields.values()) {
      if (f.type === 'decimal') fields[f.name] = `${1 + (i % 1000)}.${i % 100}`;
      else if (f.type === 'currency') fields[f.name] = i % 3 ? 'USD' : 'EUR';
      else if (f.type === 'enum') fields[f.name] = f.values![i % f.values!.length]!;
      else if (f.type === 'boolean') fields[f.name] = i % 2 === 0;
      else if (f.type === 'integer') fields[f.name] = i % 100;
      else fields[f.name] = `V${String.fromCharCode(65 + (i % 26))}${i % 3}`;
    }
    const currency = typeof fields.currency === 'string' ? fields.currency : '';
    const amount = typeof fields.amount === 'string' ? { amount: fields.amount } : {};
    return { key: `k${i}`, eventType: type.name, userId: `u${i % 500}`, tenantId: `t${i % 10}`, currency, ...amount, traceId: 'ab'.repeat(16), timestamp: T0 + i * 20, fields };
  });
}

function cpuPerEvent(events: readonly WindowEvent[], plan: ModelPlan | null): number {
  const cells = plan ? createCellApplier(plan, createDimensionBudget(plan)) : undefined;
  const engine = createWindowEngine({ allowedLatenessMs: 10_000, cells });
  const start = process.cpuUsage();
  for (const e of events) engine.add(e, e.timestamp);
  const used = process.cpuUsage(start);
  return (used.user + used.system) / events.length;
}

async function main(): Promise<void> {
  const files = process.argv.slice(2).length > 0 ? process.argv.slice(2) : ['models/default.yaml', 'models/saas.yaml'];
  console.log('model                    measures  plain µs/event  cells µs/event  added');
  for (const file of files) {
    const plan = await requireModel(file);
    const events = eventsOf(plan);
    let plain = Infinity;
    let withCells = Infinity;
    for (let round = 0; round < ROUNDS; round++) {
      plain = Math.min(plain, cpuPerEvent(events, null));
      withCells = Math.min(withCells, cpuPerEvent(events, plan));
    }
    console.log(`${file.padEnd(24)} ${String(plan.measures.length).padStart(8)}  ${plain.toFixed(2).padStart(14)}  ${withCells.toFixed(2).padStart(14)}  ${(withCells - plain).toFixed(2).padStart(5)}`);
  }
}

void main();

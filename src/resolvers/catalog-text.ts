/**
 * The catalog's `definition`: a readable rule generated from the model plan, precise
 * enough to recompute a number from events — what is counted or summed, which events,
 * stored by which dimensions, and for a formula its pinned operands and how it divides
 * and rounds. The checksummed canonical rule is `publishedDefinition` (src/model/definition.ts);
 * this text may say more and changes with the wording, not with what it describes. Pure.
 */
import { printFormula } from '../model/formula.ts';
import type { FormulaAst, FormulaVersion, MeasureVersion, MetricVersion, ModelPlan } from '../model/types.ts';
import { printCondition } from '../model/where.ts';

/** Fractional digits of `*` and `/` in formulas (src/model/evaluate.ts). */
const FORMULA_SCALE = 6;

const whereText = (v: MetricVersion, none: string) => (v.where.length ? ` where ${v.where.map(printCondition).join(' and ')}` : none);
const byText = (v: MetricVersion) => (v.by.length ? `, by ${v.by.join(', ')}` : '');

function measureText(plan: ModelPlan, v: MeasureVersion): string {
  const what = v.kind === 'count' ? 'count of events' : v.kind === 'sum' ? `exact sum of ${v.field}` : `exact count of distinct ${v.field}`;
  const over = v.kind === 'count' ? whereText(v, ' of any type') : whereText(v, ' over events of any type');
  const notes = [
    ...(v.money ? ['amounts in different currencies are never added'] : []),
    ...(v.kind === 'distinct' ? ['states merged across windows and buckets, never summed'] : []),
  ];
  const minutes = plan.windowMs / 60_000;
  return `${what}${over}${byText(v)}${notes.map((n) => `; ${n}`).join('')}. Per ${minutes}-minute event-time window of the tenant; an event counts once per idempotency key.`;
}

const operators = (ast: FormulaAst): Set<string> =>
  ast.type === 'binary' ? new Set([ast.op, ...operators(ast.left), ...operators(ast.right)]) : new Set();

function formulaText(v: FormulaVersion): string {
  const ops = operators(v.pinned);
  const rounding = ops.has('*') || ops.has('/') ? `; * and / round to ${FORMULA_SCALE} fractional digits, half to even` : '';
  const zero = ops.has('/') ? `; division by zero gives ${v.onZeroDivision === 'zero' ? '0' : 'null'}` : '';
  return `${printFormula(v.pinned)}${whereText(v, '')}${byText(v)}, in exact decimals per bucket; a total is the same formula over the operands' totals${rounding}${zero}.`;
}

/** The readable rule of one version of `plan`. */
export const readableDefinition = (plan: ModelPlan, v: MetricVersion): string => (v.kind === 'formula' ? formulaText(v) : measureText(plan, v));

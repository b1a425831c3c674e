/**
 * The models bench/model.ts measures, and their 12-tile dashboards (Query.metricSeries,
 * 30 days hourly with the previous 30 days):
 *
 *   default    models/default.yaml (revenue, purchases, signups, …: the product's own)
 *   wide       generated: 30 metrics over 3 dimensions (currency, plan, country) — counts,
 *              sums, distinct users and formulas, many with `where` filters — on 5 event types
 *
 * Events are generated from the compiled plan (every declared field of the event's type),
 * the same generator for both models.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const COUNTRIES = Array.from({ length: 60 }, (_, i) => `${String.fromCharCode(65 + Math.floor(i / 26))}${String.fromCharCode(65 + (i % 26))}`);
const PLANS = ['free', 'basic', 'pro', 'team', 'enterprise'];
const ALL = ['currency', 'plan', 'country'];

/** The generated model: 22 measures and 8 formulas (30 metrics) over currency, plan and country. */
export function wideModelYaml(): string {
  const m: string[] = [];
  const metric = (name: string, unit: string, body: string) => m.push(`  - { name: ${name}, version: 1, unit: ${unit}, ${body} }`);
  const types = ['e0', 'e1', 'e2', 'e3', 'e4'];
  for (const e of types) metric(`count_${e}`, 'count', `count: true, where: { eventType: ${e} }, by: [${e < 'e3' ? ALL.join(', ') : 'plan, country'}]`);
  for (const e of ['e0', 'e1', 'e2']) {
    metric(`amount_${e}`, 'currency', `sum: amount, where: { eventType: ${e} }, by: [${ALL.join(', ')}]`);
    metric(`paid_amount_${e}`, 'currency', `sum: amount, where: { eventType: ${e}, plan: { not: [free] } }, by: [currency, plan]`);
    metric(`big_amount_${e}`, 'currency', `sum: amount, where: { eventType: ${e}, amount: { gt: 100 } }, by: [currency, country]`);
  }
  for (const e of types) metric(`users_${e}`, 'users', `distinct: userId, where: { eventType: ${e} }, by: [${e < 'e3' ? ALL.join(', ') : 'plan, country'}]`);
  metric('paying_team_users', 'users', 'distinct: userId, where: { eventType: [e0, e2], plan: [pro, team, enterprise] }, by: [plan]');
  metric('eu_count_e3', 'count', 'count: true, where: { eventType: e3, country: [AA, AB, AC, AD, AE] }, by: [plan]');
  metric('eu_count_e4', 'count', 'count: true, where: { eventType: e4, country: { not: [AA, AB] } }, by: [plan]');
  metric('net_0', 'currency', 'formula: amount_e0 - amount_e1');
  metric('net_all', 'currency', 'formula: amount_e0 + amount_e2 - amount_e1');
  metric('aov_0', 'currency per order', 'formula: amount_e0 / count_e0');
  metric('per_user_0', 'currency per user', 'formula: net_0 / users_e0');
  metric('paid_share', 'ratio', 'formula: paid_amount_e0 / amount_e0');
  metric('big_share', 'ratio', 'formula: big_amount_e0 / amount_e0');
  metric('conv_3', 'ratio', 'formula: count_e1 / count_e3');
  metric('scaled', 'number', 'formula: (count_e3 * 2 + count_e4) / 3');
  return `model: bench-wide
window: 1m
allowedLateness: 10s
staleAfter: 30s
fields:
  currency: { type: currency, required: true }
  plan: { type: enum, values: [${PLANS.join(', ')}], required: true }
  country: { type: string, pattern: '^[A-Z]{2}$' }
dimensions:
  currency: { maxValuesPerTenant: 20 }
  plan: { maxValuesPerTenant: 5 }
  country: { maxValuesPerTenant: 50 }
events:
  e0: { fields: { amount: { type: decimal, required: true, exclusiveMin: 0 } } }
  e1: { fields: { amount: { type: decimal, required: true, exclusiveMin: 0 } } }
  e2: { fields: { amount: { type: decimal, required: true, exclusiveMin: 0 } } }
  e3: {}
  e4: {}
metrics:
${m.join('\n')}
`;
}

/** Writes the generated model into `dir`; returns its path. */
export function writeWideModel(dir: string): string {
  const path = join(dir, 'bench-wide.yaml');
  writeFileSync(path, wideModelYaml());
  return path;
}

const tile = 'total points { start value } comparison { total change points { value } }';
/** The 12 tiles of a model's dashboard over `range` (each with compareTo in `range`). */
export function dashboardOf(model: 'default' | 'wide', range: string): string {
  const s = (alias: string, input: string) => `  ${alias}: metricSeries(input: { ${input}, ${range} }) { ${tile} }`;
  const tiles =
    model === 'default'
      ? [
          s('revenueUsd', 'metric: REVENUE, currency: "USD"'),
          s('revenueEur', 'metric: REVENUE, currency: "EUR"'),
          s('purchases', 'metric: PURCHASES'),
          s('purchasesUsd', 'metric: PURCHASES, currency: "USD"'),
          s('signups', 'metric: SIGNUPS'),
          s('upgrades', 'metric: UPGRADES'),
          s('churns', 'metric: CHURNS'),
          s('activeUsers', 'metric: ACTIVE_USERS'),
          s('activeUsersUsd', 'metric: ACTIVE_USERS, currency: "USD"'),
          s('arpuUsd', 'metric: ARPU, currency: "USD"'),
          s('netUsers', 'metric: NET_USER_CHANGE'),
          `  byCurrency: metricBreakdown(input: { metric: REVENUE, by: CURRENCY, ${range.replace(', compareTo: PREVIOUS_PERIOD', '')} }) { slices { ${tile} } }`,
        ]
      : [
          s('count0', 'metric: COUNT_E0'),
          s('amount0', 'metric: AMOUNT_E0, currency: "USD"'),
          s('amount1', 'metric: AMOUNT_E1, currency: "EUR", where: [{ dimension: PLAN, in: ["pro", "team"] }]'),
          s('users0', 'metric: USERS_E0, currency: "USD"'),
          s('users3', 'metric: USERS_E3, where: [{ dimension: COUNTRY, notIn: ["AA", "AB", "AC"] }]'),
          s('net0', 'metric: NET_0, currency: "USD"'),
          s('aov0', 'metric: AOV_0, currency: "USD", where: [{ dimension: PLAN, notIn: ["free"] }]'),
          s('conv3', 'metric: CONV_3, where: [{ dimension: PLAN, in: ["pro"] }]'),
          s('perUser0', 'metric: PER_USER_0, currency: "USD"'),
          s('paidShare', 'metric: PAID_SHARE, currency: "USD"'),
          s('bigShare', 'metric: BIG_SHARE, currency: "USD", where: [{ dimension: COUNTRY, in: ["AA", "AB", "AC", "AD"] }]'),
          `  byPlan: metricBreakdown(input: { metric: AMOUNT_E2, currency: "USD", by: PLAN, top: 3, ${range.replace(', compareTo: PREVIOUS_PERIOD', '')} }) { slices { ${tile} } }`,
        ];
  return `{\n${tiles.join('\n')}\n}`;
}

/** The tile whose totals are checked against the events sent, and the event type it counts. */
export const CHECKED = { default: { tile: 'purchases', eventType: 'purchase' }, wide: { tile: 'count0', eventType: 'e0' } } as const;

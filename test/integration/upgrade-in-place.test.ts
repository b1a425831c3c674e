/**
 * A data directory written by the release before the metric model (1aae1d6: Event v1,
 * the built-in `windows` tables only) upgrades in place: this release migrates it and
 * backfills the model's tables from the event log; until that has finished `series` says
 * `complete: false` (never zeros as data), after which `series` and `metricSeries` answer the
 * same numbers as the old release.
 * The fixture (test/fixtures/upgrade/datadir-1aae1d6.tar.gz) was written by that release's
 * `createApp` posting upgradeEvents() over HTTP with its clock at UPGRADE_END (every window
 * final); the expected values are worked out here from the same events.
 */
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canonicalDecimal } from '../../src/contracts/decimal.ts';
import { freshDataDir, startTestApp, type TestApp } from '../helpers/app.ts';
import { waitFor } from '../helpers/wait.ts';
import { upgradeEvents, UPGRADE_END, UPGRADE_START, UPGRADE_TENANTS, type UpgradeEvent } from '../fixtures/upgrade/events.ts';

const HOUR = 3_600_000;
const METRICS = ['revenue', 'purchases', 'signups', 'upgrades', 'churns', 'active_users'] as const;
const CURRENCIES = ['EUR', 'USD'];
const RANGE = `from: "${new Date(UPGRADE_START).toISOString()}", to: "${new Date(UPGRADE_START + 3 * HOUR).toISOString()}", granularity: HOUR, timeZone: "UTC"`;

/** Per tenant, currency and metric: the three hourly values and the total, from the events (first arrival of an eventId counts). */
function expected(events: readonly UpgradeEvent[], currency: string): Record<string, { points: string[]; total: string }> {
  const seen = new Set<string>();
  const counted = events.filter((e) => e.currency === currency && !seen.has(e.eventId) && seen.add(e.eventId));
  const hourOf = (e: UpgradeEvent) => Math.floor((e.timestamp - UPGRADE_START) / HOUR);
  const micros = (a: string) => {
    const [int, frac = ''] = a.split('.');
    return BigInt(int!) * 1_000_000n + BigInt(frac.padEnd(6, '0'));
  };
  const dec = (m: bigint) => canonicalDecimal(`${m / 1_000_000n}.${String(m % 1_000_000n).padStart(6, '0')}`);
  const out: Record<string, { points: string[]; total: string }> = {};
  for (const metric of METRICS) {
    const of = (list: UpgradeEvent[]) => {
      if (metric === 'revenue') return dec(list.filter((e) => e.eventType === 'purchase').reduce((s, e) => s + micros(e.amount!), 0n));
      if (metric === 'active_users') return String(new Set(list.map((e) => e.userId)).size);
      const type = { purchases: 'purchase', signups: 'signup', upgrades: 'upgrade', churns: 'churn' }[metric];
      return String(list.filter((e) => e.eventType === type).length);
    };
    out[metric] = { points: [0, 1, 2].map((h) => of(counted.filter((e) => hourOf(e) === h))), total: of(counted) };
  }
  return out;
}

let t: TestApp;
const streams = upgradeEvents();

beforeAll(async () => {
  const dataDir = freshDataDir('upgrade');
  execFileSync('tar', ['xzf', 'test/fixtures/upgrade/datadir-1aae1d6.tar.gz', '-C', dataDir, '--strip-components=1']);
  t = await startTestApp({ dataDir, clock: () => UPGRADE_END });
}, 120_000);

afterAll(async () => {
  await t?.app.stop();
});

interface Answer {
  total: string | null;
  points: { value: string | null }[];
  complete?: boolean;
  incompleteBefore?: string | null;
}

async function ask(tenant: string, field: (metric: string, currency: string) => string): Promise<Record<string, Answer>> {
  const token = await t.token(tenant, 'read');
  const fields = METRICS.flatMap((m) => CURRENCIES.map((c) => `${m}_${c}: ${field(m, c)}`)).join('\n');
  const res = await t.gql<Record<string, Answer>>(token, `{ ${fields} }`);
  expect(res.errors).toBeUndefined();
  return res.data!;
}

const shape = (a: Answer) => ({ points: a.points.map((p) => p.value), total: a.total });

describe('a data directory of the release before the metric model', () => {
  const seriesField = (m: string, c: string) =>
    `series(input: { metric: ${m.toUpperCase()}, currency: "${c}", ${RANGE} }) { total complete incompleteBefore points { value } }`;

  it('while the model tables backfill, series says incomplete rather than answer zeros', async () => {
    const got = await ask(UPGRADE_TENANTS[0]!, seriesField);
    for (const c of CURRENCIES) {
      const want = expected(streams.get(UPGRADE_TENANTS[0]!)!, c);
      for (const m of METRICS) {
        const a = got[`${m}_${c}`]!;
        // Either the backfill has already covered this range (and the numbers are right), or the answer says so.
        if (a.complete) expect(shape(a), `${m} ${c}`).toEqual(want[m]);
        else expect(a.incompleteBefore, `${m} ${c}: incomplete answers name the instant`).not.toBeNull();
      }
    }
  });

  it('answers series with the same numbers once the backfill from the event log has finished', async () => {
    await waitFor(async () => Object.values(await ask(UPGRADE_TENANTS[0]!, seriesField)).every((a) => a.complete), { timeoutMs: 90_000, what: 'the backfill of the model tables' });
    for (const tenant of UPGRADE_TENANTS) {
      const got = await ask(tenant, seriesField);
      for (const c of CURRENCIES) {
        const want = expected(streams.get(tenant)!, c);
        for (const m of METRICS) expect({ ...shape(got[`${m}_${c}`]!), complete: got[`${m}_${c}`]!.complete }, `${tenant} ${m} ${c}`).toEqual({ ...want[m], complete: true });
      }
    }
  }, 120_000);

  it('metricSeries answers the same numbers, complete', async () => {
    const model = (m: string, c: string) => `metricSeries(input: { metric: ${m.toUpperCase()}, currency: "${c}", ${RANGE} }) { total complete points { value } }`;
    await waitFor(async () => Object.values(await ask(UPGRADE_TENANTS[0]!, model)).every((a) => a.complete), { timeoutMs: 90_000, what: 'the backfill of the model tables' });
    for (const tenant of UPGRADE_TENANTS) {
      const got = await ask(tenant, model);
      for (const c of CURRENCIES) {
        const want = expected(streams.get(tenant)!, c);
        for (const m of METRICS) expect({ ...shape(got[`${m}_${c}`]!), complete: got[`${m}_${c}`]!.complete }, `${tenant} ${m} ${c}`).toEqual({ ...want[m], complete: true });
      }
    }
  }, 120_000);
});

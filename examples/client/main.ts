/**
 * Example: print a dashboard — four tiles with the change against the previous period,
 * ARPU and revenue by currency — from one typed request.
 *
 *   TOKEN=$(npm run -s tilecast -- token --tenant demo --scope read)
 *   TILECAST_TOKEN=$TOKEN npm run example:client            # needs `npm start -- --demo` running
 *
 * Reads TILECAST_URL (default http://127.0.0.1:4000/graphql), TILECAST_TOKEN, and
 * optionally CURRENCY (USD) and TIME_ZONE (UTC).
 */
import { createTilecastClient } from './client.ts';
import { ExampleDashboardDocument } from './generated/graphql.ts';

const env = process.env;
const token = env.TILECAST_TOKEN;
if (!token) {
  console.error('Set TILECAST_TOKEN (mint one with `npm run -s tilecast -- token --tenant demo --scope read`).');
  process.exit(2);
}
const request = createTilecastClient({ url: env.TILECAST_URL ?? 'http://127.0.0.1:4000/graphql', token });
const to = new Date(Math.ceil(Date.now() / 86_400_000) * 86_400_000);
const from = new Date(to.getTime() - 7 * 86_400_000);

// `data` is fully typed: data.revenue.comparison?.changeRatio is `string | null | undefined`.
const data = await request(ExampleDashboardDocument, {
  currency: env.CURRENCY ?? 'USD',
  from: from.toISOString(),
  to: to.toISOString(),
  timeZone: env.TIME_ZONE ?? 'UTC',
});

const pct = (ratio: string | null | undefined) => (ratio == null ? 'n/a' : `${(Number(ratio) * 100).toFixed(1)}%`);
for (const [name, tile] of Object.entries({ revenue: data.revenue, purchases: data.purchases, activeUsers: data.activeUsers })) {
  console.log(`${name.padEnd(12)} ${tile.total.padStart(14)}  vs previous 7 days: ${pct(tile.comparison?.changeRatio)}`);
}
console.log(`${'ARPU'.padEnd(12)} ${data.arpu.total.padStart(14)}`);
for (const s of data.revenueByCurrency.slices) console.log(`revenue ${(s.currency ?? '').padEnd(4)} ${s.total.padStart(14)}`);
console.log(`data as of ${data.freshness.dataAsOf} (${data.freshness.isStale ? 'stale' : 'fresh'})`);

/**
 * Adding up stored rows for the series reader (src/storage/series-reader.ts): where each
 * bucket is one stored row, the read returns the rows and these sums make the
 * all-currency points and the totals. Revenue is exact (MicroSum); distinct users are
 * never added (stored per row, or counted/merged by the read).
 */
import type { z } from 'zod';
import { MicroSum } from '../contracts/decimal.ts';
import type { BucketRow } from './series-reader.ts';
import type { columns } from './series-sql.ts';

export type Columns = z.infer<typeof columns>;

/** Row i of the read (a stored row, part 2) as a bucket value. */
export const storedRow = (c: Columns, i: number, activeUsers: number, revenue: string): BucketRow => ({
  revenue,
  purchases: c.purchases[i]!,
  signups: c.signups[i]!,
  upgrades: c.upgrades[i]!,
  churns: c.churns[i]!,
  activeUsers,
  allFinal: c.all_final[i] === 1,
  lastEventAt: c.last_event_at_ms[i]!,
  traceSample: c.trace_sample[i]!,
});

/** Adds stored rows into buckets and totals; revenue is summed exactly (MicroSum) and rendered once at the end. */
export class Sums {
  private readonly revenue = new Map<BucketRow, MicroSum>();

  constructor(private readonly c: Columns) {}

  /** `into` += row i (a new value when `into` is undefined; distinct users are never added, they are `activeUsers`); returns the sum. */
  add(into: BucketRow | undefined, i: number, activeUsers: number, micros: number | bigint): BucketRow {
    const c = this.c;
    if (!into) {
      const row = storedRow(c, i, activeUsers, '');
      const sum = new MicroSum();
      sum.add(micros);
      this.revenue.set(row, sum);
      return row;
    }
    into.purchases += c.purchases[i]!;
    into.signups += c.signups[i]!;
    into.upgrades += c.upgrades[i]!;
    into.churns += c.churns[i]!;
    into.allFinal &&= c.all_final[i] === 1;
    into.lastEventAt = Math.max(into.lastEventAt, c.last_event_at_ms[i]!);
    if (into.traceSample.length === 0) into.traceSample = c.trace_sample[i]!;
    this.revenue.get(into)!.add(micros);
    return into;
  }

  settle(): void {
    for (const [row, sum] of this.revenue) row.revenue = sum.toString();
  }
}

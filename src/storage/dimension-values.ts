/**
 * The kept values of budgeted dimensions (migrations/0012_dimension_values.sql): saved by
 * the aggregator before the cells that use them, loaded when it (re)starts.
 */
import { z } from 'zod';
import type { ClickHouse } from './clickhouse.ts';

/** One kept value: `position` is its rank in the tenant's arrival order (1 = first kept). */
export interface KeptValueRow {
  tenantId: string;
  dimension: string;
  value: string;
  position: number;
}

const keptRow = z.object({ tenant_id: z.string(), dimension: z.string(), value: z.string(), position: z.coerce.number() });

/** Saves kept values (idempotent: saving one again leaves one row). */
export async function saveKeptValues(db: ClickHouse, rows: readonly KeptValueRow[], source: string): Promise<void> {
  if (rows.length === 0) return;
  await db.insert({
    queryId: 'dimension_values.save',
    table: 'dimension_values',
    idempotent: true,
    rows: rows.map((r) => ({ tenant_id: r.tenantId, dimension: r.dimension, value: r.value, position: r.position, source })),
  });
}

/** Every saved kept value, each once (its lowest position when writers raced). */
export async function loadKeptValues(db: ClickHouse): Promise<KeptValueRow[]> {
  const rows = await db.query({
    queryId: 'dimension_values.load',
    sql: `SELECT tenant_id, dimension, value, min(position) AS position FROM dimension_values
          GROUP BY tenant_id, dimension, value ORDER BY tenant_id, dimension, position, value`,
    row: keptRow,
  });
  return rows.map((r) => ({ tenantId: r.tenant_id, dimension: r.dimension, value: r.value, position: r.position }));
}

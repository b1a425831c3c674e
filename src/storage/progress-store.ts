/** Aggregator progress per source (table `progress`), written after each successful flush. */
import { z } from 'zod';
import type { Progress } from '../contracts/window.ts';
import type { ClickHouse } from './clickhouse.ts';

export interface StoredProgress extends Progress {
  checkpointSeq: number;
}

const row = z.object({
  source: z.string(),
  checkpoint_seq: z.coerce.number(),
  processed_through_ms: z.coerce.number(),
  watermark_ms: z.coerce.number(),
});

export function createProgressStore(db: ClickHouse) {
  async function saveMany(ps: readonly StoredProgress[]): Promise<void> {
    if (ps.length === 0) return;
    await db.insert({
      queryId: 'progress.save',
      table: 'progress',
      // The newest row per source wins (ReplacingMergeTree(updated_at)): the same row twice is the same progress.
      idempotent: true,
      rows: ps.map((p) => ({ source: p.source, checkpoint_seq: p.checkpointSeq, processed_through_ms: p.processedThrough, watermark_ms: p.watermark })),
    });
  }

  return {
    save: (p: StoredProgress): Promise<void> => saveMany([p]),
    /** Several sources' progress in one insert. */
    saveMany,
    async loadAll(): Promise<StoredProgress[]> {
      const rows = await db.query({
        queryId: 'progress.load',
        sql: 'SELECT source, checkpoint_seq, processed_through_ms, watermark_ms FROM progress FINAL',
        row,
      });
      return rows.map((r) => ({ source: r.source, checkpointSeq: r.checkpoint_seq, processedThrough: r.processed_through_ms, watermark: r.watermark_ms }));
    },
  };
}

export type ProgressStore = ReturnType<typeof createProgressStore>;

/**
 * Applies migrations/*.sql in file-name order. Each applied file is recorded with a
 * SHA-256 checksum; a file edited after it ran stops the runner (write a new
 * migration instead). Running twice is a no-op.
 */
import { createHash } from 'node:crypto';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { isIdempotentDdl, type ClickHouse } from './clickhouse.ts';

export const MIGRATIONS_DIR = fileURLToPath(new URL('../../migrations', import.meta.url));

/** Longest wait for one migration statement (a backfill over a big table is slow). */
const MIGRATION_TIMEOUT_MS = 30 * 60_000;

export class MigrationChecksumError extends Error {
  constructor(readonly file: string) {
    super(`Migration ${file} was edited after it was applied (checksum differs). Add a new migration instead.`);
    this.name = 'MigrationChecksumError';
  }
}

/** Splits a file into statements at `;` ending a line; comment-only chunks are dropped. */
export function splitStatements(sql: string): string[] {
  return sql
    .split(/;\s*$/m)
    .map((s) => s.trim())
    .filter((s) => s.split('\n').some((line) => line.trim() !== '' && !line.trim().startsWith('--')));
}

const appliedRow = z.object({ name: z.string(), checksum: z.string() });

export async function migrate(db: ClickHouse, dir = MIGRATIONS_DIR): Promise<{ applied: string[]; skipped: string[] }> {
  await db.command({
    queryId: 'migrations.init',
    sql: `CREATE TABLE IF NOT EXISTS schema_migrations (name String, checksum String, applied_at DateTime64(3, 'UTC') DEFAULT now64(3))
          ENGINE = ReplacingMergeTree ORDER BY name`,
    idempotent: true,
  });
  const rows = await db.query({ queryId: 'migrations.applied', sql: 'SELECT name, checksum FROM schema_migrations FINAL', row: appliedRow });
  const applied = new Map(rows.map((r) => [r.name, r.checksum]));
  const files = (await readdir(dir)).filter((f) => /^\d{4}_[a-z0-9_]+\.sql$/.test(f)).sort();
  const result = { applied: [] as string[], skipped: [] as string[] };
  for (const file of files) {
    const sql = await readFile(join(dir, file), 'utf8');
    const checksum = createHash('sha256').update(sql).digest('hex');
    const previous = applied.get(file);
    if (previous === checksum) {
      result.skipped.push(file);
      continue;
    }
    if (previous !== undefined) throw new MigrationChecksumError(file);
    for (const statement of splitStatements(sql)) {
      // A backfill over a big table may take long; only repeatable DDL is retried (isIdempotentDdl).
      await db.command({ queryId: `migrations.${file}`, sql: statement, idempotent: isIdempotentDdl(statement), timeoutMs: MIGRATION_TIMEOUT_MS });
    }
    // ReplacingMergeTree by name: recording a file twice leaves one row.
    await db.insert({ queryId: 'migrations.record', table: 'schema_migrations', rows: [{ name: file, checksum }], idempotent: true });
    result.applied.push(file);
  }
  return result;
}

/** Names of migration files not yet applied (readiness reports them). */
export async function pendingMigrations(db: ClickHouse, dir = MIGRATIONS_DIR): Promise<string[]> {
  const files = (await readdir(dir)).filter((f) => f.endsWith('.sql')).sort();
  const rows = await db
    .query({ queryId: 'migrations.applied', sql: 'SELECT name, checksum FROM schema_migrations FINAL', row: appliedRow })
    .catch(() => []);
  const done = new Set(rows.map((r) => r.name));
  return files.filter((f) => !done.has(f));
}

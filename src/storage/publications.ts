/**
 * Which versions each running process computes and serves (`model_publications`,
 * migration 0011), so processes started with different models for one storage agree
 * (docs/metrics.md, "Versions and processes").
 *
 * The rule, checked once at start: a process refuses to start when a live process that
 * started before it computes a version its own model lacks. A model with more versions
 * (a rolling upgrade that adds some) starts beside processes on the old model; an old
 * model started beside upgraded workers does not. Live = its heartbeat (every
 * `heartbeatMs`, by the ClickHouse server's clock) is younger than `expiryMs`, and it has
 * not said it stopped; so a killed process blocks nobody for longer than the expiry.
 */
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { Logger } from '../observability/logger.ts';
import type { ModelPlan } from '../model/types.ts';
import type { ClickHouse } from './clickhouse.ts';

export type ProcessRole = 'worker' | 'api' | 'embedded';

/** Default heartbeat period and the age past which a process counts as gone. */
export const HEARTBEAT_MS = 10_000;
export const EXPIRY_MS = 30_000;

const NAMES: Record<ProcessRole, { the: string; this: string }> = {
  worker: { the: 'the worker', this: "this worker's model" },
  api: { the: 'the API', this: "this API's model" },
  embedded: { the: 'the all-in-one process (tilecast start)', this: "this process's model" },
};

/** What a process of `role` running `plan` computes (aggregates into windows) and serves (answers queries for). */
export function publicationOf(plan: ModelPlan, role: ProcessRole): { computes: string[]; serves: string[] } {
  return {
    computes: role === 'api' ? [] : plan.measures.map((m) => m.id),
    serves: role === 'worker' ? [] : plan.versions.map((v) => v.id),
  };
}

/** A live process as its row says. */
export interface LivePublication {
  processId: string;
  role: ProcessRole;
  host: string;
  pid: number;
  modelPath: string;
  computes: readonly string[];
  startedAtMs: number;
  ageMs: number;
}

/**
 * The pure rule: one message per earlier process that computes versions `self`'s model
 * lacks, e.g. "the worker computes signups@2, which this API's model (models/x.yaml) lacks".
 */
export function disagreements(self: { role: ProcessRole; modelPath: string; versions: readonly string[] }, earlier: readonly LivePublication[]): string[] {
  const has = new Set(self.versions);
  return earlier.flatMap((p) => {
    const lacked = p.computes.filter((id) => !has.has(id));
    if (lacked.length === 0) return [];
    return [
      `${NAMES[p.role].the} computes ${lacked.join(', ')}, which ${NAMES[self.role].this} (${self.modelPath}) lacks ` +
        `(${p.role} pid ${p.pid} on ${p.host}, model ${p.modelPath}, seen ${Math.round(p.ageMs / 1000)}s ago): ` +
        `start with a model that has ${lacked.length > 1 ? 'them' : 'it'}, or stop that ${p.role} first`,
    ];
  });
}

/** Refused: a process that started earlier computes versions this one's model lacks. */
export class ModelDisagreementError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(problems.join('\n'));
    this.name = 'ModelDisagreementError';
  }
}

const liveRow = z.object({
  process_id: z.string(),
  role: z.enum(['worker', 'api', 'embedded']),
  host: z.string(),
  pid: z.coerce.number(),
  model_path: z.string(),
  computes: z.array(z.string()),
  started_ms: z.coerce.number(),
  age_ms: z.coerce.number(),
});

/** Processes whose last heartbeat is younger than `expiryMs` and that have not stopped. */
export async function livePublications(db: ClickHouse, expiryMs = EXPIRY_MS): Promise<LivePublication[]> {
  const rows = await db.query({
    queryId: 'publications.live',
    sql: `SELECT process_id, role, host, pid, model_path, computes,
                 toUnixTimestamp64Milli(started_at) AS started_ms,
                 toUnixTimestamp64Milli(now64(3)) - toUnixTimestamp64Milli(heartbeat_at) AS age_ms
          FROM model_publications FINAL
          WHERE stopped = 0 AND heartbeat_at >= now64(3) - toIntervalMillisecond({expiry:UInt32})
          ORDER BY started_at, process_id`,
    params: { expiry: expiryMs },
    row: liveRow,
  });
  return rows.map((r) => ({ processId: r.process_id, role: r.role, host: r.host, pid: r.pid, modelPath: r.model_path, computes: r.computes, startedAtMs: r.started_ms, ageMs: r.age_ms }));
}

export interface PublishOptions {
  db: ClickHouse;
  plan: ModelPlan;
  role: ProcessRole;
  /** The model file, for messages (config.model.path). */
  modelPath: string;
  logger: Logger;
  heartbeatMs?: number;
  expiryMs?: number;
}

/**
 * Records this process's versions, then applies the rule against the live processes that
 * started before it (by the server's clock; ties by id, so of two racing starts exactly
 * one is "second"). Refused: its row is marked stopped and ModelDisagreementError is
 * thrown. Else its row is kept fresh every `heartbeatMs` until `stop()` marks it stopped.
 */
export async function publishProcess(o: PublishOptions): Promise<{ processId: string; stop(): Promise<void> }> {
  const { db, plan, role, logger } = o;
  const processId = randomUUID();
  const { computes, serves } = publicationOf(plan, role);
  const base = { process_id: processId, role, host: hostname(), pid: process.pid, model: plan.name, model_path: o.modelPath, model_checksum: plan.checksum, computes, serves };
  // The first row takes the server's time as started_at; later beats repeat it.
  const row: { beat: number; started_at?: string } = { beat: 0 };
  const write = (stopped: 0 | 1) => db.insert({ queryId: 'publications.beat', table: 'model_publications', rows: [{ ...base, ...row, beat: row.beat++, stopped }], idempotent: true });

  await write(0);
  const live = await livePublications(db, o.expiryMs);
  const self = live.find((p) => p.processId === processId);
  // Our own row may be missing only if the expiry is shorter than a round trip: compare with everyone then.
  const earlier = live.filter((p) => p.processId !== processId && (!self || p.startedAtMs < self.startedAtMs || (p.startedAtMs === self.startedAtMs && p.processId < processId)));
  if (self) row.started_at = new Date(self.startedAtMs).toISOString().replace('T', ' ').replace('Z', '');
  const problems = disagreements({ role, modelPath: o.modelPath, versions: plan.versions.map((v) => v.id) }, earlier);
  if (problems.length) {
    await write(1);
    throw new ModelDisagreementError(problems);
  }

  const timer = setInterval(() => {
    write(0).catch((err: unknown) => logger.warn({ err: err instanceof Error ? err.message : String(err) }, 'model publication heartbeat failed'));
  }, o.heartbeatMs ?? HEARTBEAT_MS);
  timer.unref();
  let stopped = false;
  return {
    processId,
    async stop() {
      if (stopped) return;
      stopped = true;
      clearInterval(timer);
      await write(1).catch((err: unknown) => logger.warn({ err: err instanceof Error ? err.message : String(err) }, 'could not mark this process stopped; its row expires'));
    },
  };
}

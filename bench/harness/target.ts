/**
 * The checkout a bench measures. A bench file is the same code for both sides of a
 * comparison; only the `src/` it drives differs. It loads that `src/` here, from the
 * directory given as `--target DIR` (default: the checkout the bench file is in), instead
 * of importing `../src/...` statically.
 *
 * When a refactor moves or renames one of these exports, add the new location to the
 * candidate list (newest first) and keep the old one: the baseline checkout still has it.
 * The types are the current checkout's; an adapter that papers over a changed signature
 * belongs here too, so the bench files stay one workload for both sides.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

type AppModule = typeof import('../../src/app/app.ts');
type WorkerModule = typeof import('../../src/app/worker.ts');
type ConfigModule = typeof import('../../src/config/index.ts');
type EngineModule = typeof import('../../src/aggregate/window-engine.ts');
type DecodeModule = typeof import('../../src/ingest/kafka/decode.ts');
type StepsModule = typeof import('../../src/ingest/pipeline/steps.ts');
type ModelModule = typeof import('../../src/model/compile.ts');
type AcceptedEvent = import('../../src/contracts/event.ts').AcceptedEvent;
type ConsumedMessage = Parameters<DecodeModule['decodeRecord']>[0];
/** The ceiling's decode: a record's events, validated and keyed, or why not (the baseline's decodeMessage shape). */
export type DecodeMessage = (m: ConsumedMessage) => ({ ok: true; event: AcceptedEvent } | { ok: false })[];
type ProducerModule = typeof import('../../src/ingest/kafka/producer.ts');
type LoggerModule = typeof import('../../src/observability/logger.ts');

export const HERE_ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** `--target DIR` from argv (left in place for the bench's own parser to ignore), else this checkout. */
export function targetRoot(argv = process.argv.slice(2)): string {
  const { values } = parseArgs({ args: argv, options: { target: { type: 'string' } }, strict: false });
  const dir = typeof values.target === 'string' ? resolve(values.target) : HERE_ROOT;
  if (!existsSync(join(dir, 'src'))) throw new Error(`--target ${dir}: no src/ there`);
  return dir;
}

/** Throws unless a side reported driving the checkout it was meant to (guards the comparison itself). */
export function assertTarget(side: { name: string; dir: string }, reported: string): void {
  if (resolve(reported) !== resolve(side.dir)) throw new Error(`${side.name} side drove ${reported}, not ${side.dir}`);
}

/** The first of `paths` (relative to root) that exists and exports `name`. */
async function pick<M>(root: string, paths: readonly string[], name: string): Promise<M> {
  for (const p of paths) {
    const file = join(root, p);
    if (!existsSync(file)) continue;
    const mod = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
    if (name in mod) return mod as M;
  }
  throw new Error(`${root}: none of ${paths.join(', ')} exports ${name}`);
}

export async function loadDashboardTarget(root: string) {
  const [app, config] = await Promise.all([
    pick<AppModule>(root, ['src/app/app.ts'], 'createApp'),
    pick<ConfigModule>(root, ['src/config/index.ts'], 'loadConfig'),
  ]);
  return { root, createApp: app.createApp, loadConfig: config.loadConfig };
}
export type DashboardTarget = Awaited<ReturnType<typeof loadDashboardTarget>>;

/**
 * Decode + validate + key of one record. Checkouts before the one ingest pipeline export it
 * as decodeMessage; later ones split it into decodeRecord and the pipeline's validate/withKey,
 * and since validation comes from the metric model, validate takes the plan (the default model's).
 */
async function decodeMessageOf(root: string, decode: DecodeModule): Promise<DecodeMessage> {
  const legacy = (decode as unknown as { decodeMessage?: DecodeMessage }).decodeMessage;
  if (legacy) return legacy;
  const steps = await pick<StepsModule>(root, ['src/ingest/pipeline/steps.ts'], 'validate');
  const validate = await validatorOf(root, steps);
  return (m) =>
    decode.decodeRecord(m).map((d) => {
      if (steps.isRejected(d)) return { ok: false as const };
      const v = validate(d.value);
      return steps.isRejected(v) ? { ok: false as const } : { ok: true as const, event: steps.withKey(v) };
    });
}

/** The checkout's validate step as a function of the value alone. */
async function validatorOf(root: string, steps: StepsModule): Promise<(value: unknown) => ReturnType<StepsModule['validate']>> {
  if (steps.validate.length < 2) return steps.validate as unknown as (value: unknown) => ReturnType<StepsModule['validate']>;
  const model = await pick<ModelModule>(root, ['src/model/compile.ts'], 'requireModel');
  const plan = await model.requireModel(join(root, 'models/default.yaml'));
  return (value) => steps.validate(plan, value);
}

export async function loadKafkaTarget(root: string) {
  const [worker, config, engine, decode, producer, logger] = await Promise.all([
    pick<WorkerModule>(root, ['src/app/worker.ts'], 'createWorkerApp'),
    pick<ConfigModule>(root, ['src/config/index.ts'], 'loadConfig'),
    pick<EngineModule>(root, ['src/aggregate/window-engine.ts'], 'createWindowEngine'),
    pick<DecodeModule>(root, ['src/ingest/kafka/decode.ts'], 'decodeRecord'),
    pick<ProducerModule>(root, ['src/ingest/kafka/producer.ts'], 'batchRecords'),
    pick<LoggerModule>(root, ['src/observability/logger.ts'], 'createLogger'),
  ]);
  return {
    root,
    createWorkerApp: worker.createWorkerApp,
    loadConfig: config.loadConfig,
    createWindowEngine: engine.createWindowEngine,
    decodeMessage: await decodeMessageOf(root, decode),
    batchRecords: producer.batchRecords,
    encodeEvent: producer.encodeEvent,
    createLogger: logger.createLogger,
  };
}
export type KafkaTarget = Awaited<ReturnType<typeof loadKafkaTarget>>;

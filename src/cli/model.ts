/**
 * `tilecast model check [FILE]` — validates a model file: every error with line, path and
 * reason, exit 1; a short summary of what it declares when valid.
 * `tilecast schema events [--model FILE]` — the JSON Schema (draft-07) of the model's events.
 * FILE defaults to TILECAST_MODEL (models/default.yaml).
 */
import { parseArgs } from 'node:util';
import { loadConfig } from '../config/index.ts';
import { formatModelError, loadModel } from '../model/compile.ts';
import { eventsJsonSchema } from '../model/json-schema.ts';
import type { ModelPlan } from '../model/types.ts';

export const modelPath = (given: string | undefined) => given ?? loadConfig(process.env).model.path;

export async function compileOrReport(file: string, err: (line: string) => void): Promise<ModelPlan | null> {
  const r = await loadModel(file);
  if (r.ok) return r.plan;
  for (const e of r.errors) err(formatModelError(file, e));
  err(`${file}: ${r.errors.length} error${r.errors.length === 1 ? '' : 's'}`);
  return null;
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** The summary `model check` prints for a valid model. */
export function summarise(file: string, plan: ModelPlan): string[] {
  const formulas = plan.versions.length - plan.measures.length;
  const width = Math.max(...plan.versions.map((v) => v.id.length));
  return [
    `${file}: model "${plan.name}" is valid`,
    `  ${plural(plan.eventTypes.size, 'event type')} (${[...plan.eventTypes.keys()].join(', ')}), ${plural(plan.dimensions.size, 'dimension')}${
      plan.dimensions.size ? ` (${[...plan.dimensions.values()].map((d) => `${d.name} ≤ ${d.maxValuesPerTenant}`).join(', ')})` : ''
    }`,
    `  ${plural(plan.versions.length, 'metric version')}: ${plan.measures.length} stored, ${plural(formulas, 'formula')}`,
    ...plan.versions.map((v) => {
      const d = plan.definitions.get(v.id)!;
      return `  ${v.id.padEnd(width)}  ${d.checksum.slice(0, 12)}  ${d.definition}${v.current ? '' : '  (not current)'}${v.hidden ? '  (hidden)' : ''}`;
    }),
  ];
}

type Print = (line: string) => void;

/** `model check [FILE]`; resolves to the exit code (1: the model has errors). */
export async function runModel(argv: string[], out: Print = console.log, err: Print = console.error): Promise<number> {
  const { positionals } = parseArgs({ args: argv, allowPositionals: true, options: {} });
  const [sub, file, ...extra] = positionals;
  if (sub !== 'check' || extra.length > 0) throw new Error('usage: tilecast model check [FILE]');
  const path = modelPath(file);
  const plan = await compileOrReport(path, err);
  if (!plan) return 1;
  for (const line of summarise(path, plan)) out(line);
  return 0;
}

/** `schema events [--model FILE]`; resolves to the exit code. */
export async function runSchema(argv: string[], out: Print = console.log, err: Print = console.error): Promise<number> {
  const { positionals, values } = parseArgs({ args: argv, allowPositionals: true, options: { model: { type: 'string' } } });
  if (positionals[0] !== 'events' || positionals.length > 1) throw new Error('usage: tilecast schema events [--model FILE]');
  const plan = await compileOrReport(modelPath(values.model), err);
  if (!plan) return 1;
  out(JSON.stringify(eventsJsonSchema(plan), null, 2));
  return 0;
}


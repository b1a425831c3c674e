/**
 * Model file text → ModelPlan, or every error in it (line, path, reason). The one place a
 * model is turned into what the rest of Tilecast reads.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { compileFields } from './compile-fields.ts';
import { compileMeasure, entryBase, kindOf } from './compile-metrics.ts';
import { definitionOf } from './definition.ts';
import { durationMs } from './file-schema.ts';
import { compileFormulas, type FormulaInput } from './formulas.ts';
import { parseModelText } from './source.ts';
import type { MeasureVersion, MetricVersion, ModelError, ModelPlan, RecordedDefinition } from './types.ts';
import { buildValidators } from './validators.ts';

export type Compiled = { ok: true; plan: ModelPlan } | { ok: false; errors: ModelError[] };

export function compileModel(text: string): Compiled {
  const parsed = parseModelText(text);
  if (!parsed.ok) return parsed;
  const { file, source: src, broken } = parsed;
  const errors: ModelError[] = [...parsed.errors];
  const fields = compileFields(file, src, errors, broken);

  // Names and versions first: formulas resolve operands against every entry, in any order.
  const versionsOf = new Map<string, number[]>();
  const firstLine = new Map<string, number | null>();
  const entries = file.metrics.flatMap(({ entry, index }) => {
    const path = ['metrics', index];
    const base = entryBase(entry, index, src);
    if (firstLine.has(base.id)) {
      const at = firstLine.get(base.id);
      errors.push(src.error([...path, 'version'], `duplicate metric ${entry.name} version ${entry.version}${at ? ` (first at line ${at})` : ''}: each entry is one version; give this one version ${Math.max(...versionsOf.get(entry.name)!) + 1}`));
      return [];
    }
    firstLine.set(base.id, base.line);
    versionsOf.set(entry.name, [...(versionsOf.get(entry.name) ?? []), entry.version]);
    const kind = kindOf(entry, path, src, errors);
    return kind ? [{ entry, index, base, kind }] : [];
  });

  const measures = new Map<string, MeasureVersion | null>();
  const formulaInputs: FormulaInput[] = [];
  for (const { entry, index, base, kind } of entries) {
    if (kind === 'formula') formulaInputs.push({ entry, index, base });
    else measures.set(base.id, compileMeasure(entry, index, base, kind, fields, file.maxSeriesPerMetric, src, errors));
  }
  const formulas = new Map(compileFormulas(formulaInputs, { measures, versionsOf, broken: broken.metrics }, fields, src, errors).map((f) => [f.id, f]));
  if (errors.length > 0) return { ok: false, errors: errors.sort((a, b) => (a.line ?? 0) - (b.line ?? 0)) };

  const current = new Map([...versionsOf].map(([name, vs]) => [name, Math.max(...vs)]));
  const versions: MetricVersion[] = entries.map(({ base }) => {
    const v = measures.get(base.id) ?? formulas.get(base.id)!;
    v.current = current.get(v.name) === v.version;
    return v;
  });
  const definitions = new Map<string, RecordedDefinition>(versions.map((v) => [v.id, definitionOf(v)]));
  const byId = new Map(versions.map((v) => [v.id, v]));
  const validators = buildValidators(fields.eventTypes, fields.commonRequired);
  const plan: ModelPlan = {
    name: file.model,
    windowMs: 60_000,
    allowedLatenessMs: durationMs(file.allowedLateness),
    staleAfterMs: durationMs(file.staleAfter),
    maxSeriesPerMetric: file.maxSeriesPerMetric,
    commonFields: fields.commonFields,
    eventTypes: fields.eventTypes,
    dimensions: fields.dimensions,
    versions,
    measures: versions.filter((v): v is MeasureVersion => v.kind !== 'formula'),
    metric: (name, version) => byId.get(`${name}@${version ?? current.get(name)}`),
    names: [...versionsOf.keys()],
    validate: validators.validate,
    eventSchemas: validators.byType,
    definitions,
    checksum: createHash('sha256').update(text).digest('hex'),
  };
  return { ok: true, plan };
}

/** Reads and compiles a model file; a file that cannot be read is one error. */
export async function loadModel(path: string): Promise<Compiled> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    return { ok: false, errors: [{ line: null, column: null, path: '', message: `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` }] };
  }
  return compileModel(text);
}

/** Loads a model or throws one error listing every problem (for processes that cannot run without it). */
export async function requireModel(path: string): Promise<ModelPlan> {
  const r = await loadModel(path);
  if (r.ok) return r.plan;
  throw new ModelFileError(path, r.errors);
}

export class ModelFileError extends Error {
  constructor(
    readonly file: string,
    readonly errors: readonly ModelError[],
  ) {
    super(`Invalid model ${file}:\n${errors.map((e) => `  ${formatModelError(file, e)}`).join('\n')}`);
    this.name = 'ModelFileError';
  }
}

/** `models/x.yaml:12:5 metrics[3].sum: reason`. */
export function formatModelError(file: string, e: ModelError): string {
  const at = e.line === null ? file : `${file}:${e.line}${e.column === null ? '' : `:${e.column}`}`;
  return `${at}${e.path ? ` ${e.path}` : ''}: ${e.message}`;
}

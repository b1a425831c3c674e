/**
 * Reading a model file: YAML (the `yaml` package keeps every node's position) and the
 * file's zod shape, each problem turned into a ModelError with line, column and path.
 */
import { isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import type { z } from 'zod';
import { entrySchemas, modelFileTop, type Broken, type FieldDecl, type MetricEntry, type ModelFile } from './file-schema.ts';
import type { ModelError } from './types.ts';

export type PathSegment = string | number;

/** `metrics[3].sum`, `events.purchase.fields.amount.type`. */
export function formatPath(path: readonly PathSegment[]): string {
  return path.reduce<string>((s, seg) => (typeof seg === 'number' ? `${s}[${seg}]` : s ? `${s}.${seg}` : seg), '');
}

export interface ModelSource {
  /** Line and column (1-based) of the node at `path`, or of its nearest ancestor present in the file. */
  locate(path: readonly PathSegment[]): { line: number | null; column: number | null };
  error(path: readonly PathSegment[], message: string): ModelError;
}

export function sourceOf(doc: Document | null, lineCounter: LineCounter): ModelSource {
  const at = (offset: number | undefined) => {
    if (offset === undefined) return { line: null, column: null };
    const { line, col } = lineCounter.linePos(offset);
    return { line, column: col };
  };
  const locate = (path: readonly PathSegment[]) => {
    let node: unknown = doc?.contents ?? null;
    let offset = (node as Node | null)?.range?.[0];
    for (const seg of path) {
      if (isMap(node)) {
        const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(seg));
        if (!pair) break;
        // A key without a value (`signup:`) is located at its key.
        offset = ((pair.value as Node | null)?.range ?? (pair.key as Node).range)?.[0];
        node = pair.value;
      } else if (isSeq(node) && typeof seg === 'number' && node.items[seg]) {
        node = node.items[seg];
        offset = (node as Node).range?.[0];
      } else break;
    }
    return at(offset);
  };
  return { locate, error: (path, message) => ({ ...locate(path), path: formatPath(path), message }) };
}

function issueMessage(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case 'unrecognized_keys':
      return `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}`;
    case 'invalid_type':
      return issue.input === undefined ? `is required (${issue.expected})` : `must be ${issue.expected}, got ${describe(issue.input)}`;
    case 'invalid_union':
      if ('discriminator' in issue && issue.discriminator) return `${issue.discriminator} must be one of decimal, currency, string, enum, integer, boolean`;
      return 'has none of the accepted shapes (a value, a list, { not: [...] } or { gt|gte|lt|lte: n })';
    case 'invalid_value':
      return issue.message.startsWith('Invalid') ? `must be ${issue.values.map((v) => JSON.stringify(v)).join(' or ')}` : issue.message;
    default:
      return issue.message;
  }
}

const describe = (v: unknown) => (v === null ? 'null' : Array.isArray(v) ? 'a list' : typeof v === 'object' ? 'a mapping' : JSON.stringify(v));

/** The file's valid parts (compile.ts checks them further), its shape errors and the names of the broken entries. */
export type Parsed = { ok: true; file: ModelFile; source: ModelSource; errors: ModelError[]; broken: Broken } | { ok: false; errors: ModelError[] };

/** Parses and shape-checks a model file's text: every YAML and shape error at once. */
export function parseModelText(text: string): Parsed {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: false });
  const source = sourceOf(doc, lineCounter);
  if (doc.errors.length > 0) {
    return {
      ok: false,
      errors: doc.errors.map((e) => {
        const pos = lineCounter.linePos(e.pos[0]);
        return { line: pos.line, column: pos.col, path: '', message: e.message.split('\n')[0]! };
      }),
    };
  }
  const errors: ModelError[] = [];
  const check = <T>(schema: z.ZodType<T>, value: unknown, at: PathSegment[]): T | null => {
    const r = schema.safeParse(value);
    if (r.success) return r.data;
    for (const issue of r.error.issues) {
      const path = [...at, ...issue.path.filter((p): p is PathSegment => typeof p !== 'symbol')];
      // An unknown key is reported where the key is.
      const pos = issue.code === 'unrecognized_keys' && issue.keys.length === 1 ? [...path, issue.keys[0]!] : path;
      errors.push({ ...source.locate(pos), path: formatPath(path), message: issueMessage(issue) });
    }
    return null;
  };
  const top = check(modelFileTop, doc.toJS({ maxAliasCount: 100 }) ?? {}, []);
  if (!top) return { ok: false, errors };
  const broken: Broken = { fields: new Set(), events: new Set(), dimensions: new Set(), metrics: new Set() };
  const entries = <T>(record: Record<string, unknown>, schema: z.ZodType<T>, at: PathSegment[], bad: Set<string>) => {
    const out: Record<string, T> = {};
    for (const [name, value] of Object.entries(record)) {
      const v = check(schema, value, [...at, name]);
      if (v === null && value !== null) bad.add(name);
      else out[name] = v as T;
    }
    return out;
  };
  const fields = entries(top.fields, entrySchemas.field, ['fields'], broken.fields);
  const events: ModelFile['events'] = {};
  for (const [name, e] of Object.entries(entries(top.events, entrySchemas.event, ['events'], broken.events))) {
    events[name] = e && { ...e, fields: e.fields && (entries(e.fields, entrySchemas.field, ['events', name, 'fields'], broken.fields) as Record<string, FieldDecl>) };
  }
  const metrics: { index: number; entry: MetricEntry }[] = [];
  top.metrics.forEach((value, index) => {
    const entry = check(entrySchemas.metric, value, ['metrics', index]);
    if (entry) metrics.push({ index, entry });
    else if (value && typeof value === 'object' && typeof (value as { name?: unknown }).name === 'string') broken.metrics.add((value as { name: string }).name);
  });
  const file: ModelFile = { ...top, fields, dimensions: entries(top.dimensions, entrySchemas.dimension, ['dimensions'], broken.dimensions), events, metrics };
  return { ok: true, file, source, errors, broken };
}

/**
 * What live `windows` subscribers of models/saas.yaml should end with, from the brute force
 * of test/helpers/saas-truth.ts: the newest value per (metric, minute, slice) a subscriber
 * holds, compared with every (minute, slice) a metric's stored operands have rows in.
 */
import { loadPlan } from './model.ts';
import { expectSeries, type Filter, type Truth } from './saas-truth.ts';

const plan = loadPlan('models/saas.yaml');
const MIN = 60_000;

export interface Msg {
  metric: string;
  version: number;
  currency: string;
  windowStart: string;
  value: string;
  revision: number;
  final: boolean;
  replayed: boolean;
  dimensions: { name: string; value: string | null; other: boolean }[];
}
export const FIELDS = 'metric version currency windowStart value revision final replayed dimensions { name value other }';

const stored = (d: Msg['dimensions'][number]) => (d.other ? '__other__' : (d.value ?? ''));
const keyOf = (metric: string, minute: number, dims: readonly string[]) => `${metric}|${minute}|${dims.join('/')}`;

/** Newest value per (metric, minute, slice), by revision. */
export function latest(messages: readonly Msg[]): Map<string, Msg> {
  const out = new Map<string, Msg>();
  for (const m of messages) {
    const key = keyOf(m.metric.toLowerCase(), Date.parse(m.windowStart), m.dimensions.map(stored));
    if ((out.get(key)?.revision ?? 0) < m.revision) out.set(key, m);
  }
  return out;
}

const minuteShape = { from: 0, to: Number.MAX_SAFE_INTEGER, bucketOf: (x: number) => Math.floor(x / MIN) * MIN };
const leavesOf = (name: string): string[] => {
  const v = plan.metric(name)!;
  if (v.kind !== 'formula') return [name];
  const out: string[] = [];
  const walk = (n: typeof v.pinned): void => {
    if (n.type === 'binary') {
      walk(n.left);
      walk(n.right);
    } else if (n.type === 'metric') out.push(...leavesOf(n.name));
  };
  walk(v.pinned);
  return out;
};

/**
 * What a subscriber of `metrics` (with `where`) of `tenant` should end with: every
 * (minute, slice) a leaf has rows in, valued by the brute force; formula slices that
 * divide by zero are absent.
 */
export function expected(truth: Truth, tenant: string, metrics: readonly string[], where: readonly Filter[] = []): Map<string, string> {
  const out = new Map<string, string>();
  for (const metric of metrics) {
    const by = plan.metric(metric)!.by;
    const slices = new Map<string, { minute: number; dims: string[] }>();
    for (const leaf of leavesOf(metric)) {
      for (const r of truth.rows.get(leaf)!) {
        if (r.tenant !== tenant) continue;
        const dims = by.map((d) => r.dims[d]!);
        const minute = minuteShape.bucketOf(r.t);
        slices.set(keyOf(metric, minute, dims), { minute, dims });
      }
    }
    for (const [key, { minute, dims }] of slices) {
      const filters: Filter[] = [...by.map((d, i) => ({ dimension: d, in: [dims[i]!] })), ...where];
      if (!where.every((f) => !by.includes(f.dimension) || ((!f.in || f.in.includes(dims[by.indexOf(f.dimension)]!)) && (!f.notIn || !f.notIn.includes(dims[by.indexOf(f.dimension)]!))))) continue;
      const value = expectSeries(truth, metric, tenant, minuteShape, filters).at(minute);
      if (value !== null) out.set(key, value);
    }
  }
  return out;
}

/** Differences between what a subscriber holds and what it should: missing, extra and wrong values. */
export function diff(got: Map<string, Msg>, want: Map<string, string>): string[] {
  const out: string[] = [];
  for (const [key, value] of want) if (got.get(key)?.value !== value) out.push(`${key}: got ${got.get(key)?.value ?? 'nothing'}, want ${value}`);
  for (const key of got.keys()) if (!want.has(key)) out.push(`${key}: got ${got.get(key)!.value}, want nothing`);
  return out;
}


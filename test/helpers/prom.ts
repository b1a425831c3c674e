/** A small parser for the Prometheus text format, enough to assert on a /metrics scrape. */
export interface Scrape {
  /** Metric family names with a `# TYPE` line (a histogram's family is its base name). */
  families: Map<string, string>;
  /** Value of the sample `name` whose labels include `labels` (summed over the others); undefined when none. */
  value(name: string, labels?: Record<string, string>): number | undefined;
  /** Whether a series name (a family, or a histogram's _bucket/_sum/_count) is exposed. */
  has(series: string): boolean;
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

export function parseScrape(text: string): Scrape {
  const families = new Map<string, string>();
  const samples: { name: string; labels: Record<string, string>; value: number }[] = [];
  for (const line of text.split('\n')) {
    if (line.startsWith('# TYPE ')) {
      const [, , name, type] = line.split(' ');
      families.set(name!, type!);
      continue;
    }
    if (line.startsWith('#') || line.trim() === '') continue;
    const m = SAMPLE.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(LABEL)) labels[l[1]!] = l[2]!;
    samples.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return {
    families,
    value(name, want = {}) {
      const hits = samples.filter((s) => s.name === name && Object.entries(want).every(([k, v]) => s.labels[k] === v));
      return hits.length ? hits.reduce((n, s) => n + s.value, 0) : undefined;
    },
    has(series) {
      if (families.has(series)) return true;
      const base = series.replace(/_(bucket|sum|count)$/, '');
      return base !== series && ['histogram', 'summary'].includes(families.get(base) ?? '');
    },
  };
}

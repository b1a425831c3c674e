/**
 * What GraphiQL at /graphql opens with: one tab per example operation in
 * examples/graphiql/ (the same documents the example dashboard sends), with variables
 * for "today, UTC, USD", and — in demo mode only — the Authorization header of a
 * short-lived read token for the demo tenant. Without demo mode the header is left
 * for the analyst to fill in.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { GraphiQLOptions } from 'graphql-yoga';

export const EXAMPLES_DIR = fileURLToPath(new URL('../../examples/graphiql', import.meta.url));

/** Tab order: the dashboard query first (it is also `defaultQuery`); others by file name. */
const FIRST = ['dashboard.graphql', 'live-updates.graphql'];

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;

/** Variables of examples/graphiql/dashboard.graphql for "today in UTC" (the dashboard computes any zone). */
export function todayVariables(now: number, currency = 'USD') {
  const minute = Math.floor(now / MINUTE) * MINUTE;
  const from = Math.floor(now / DAY) * DAY;
  const iso = (t: number) => new Date(t).toISOString();
  return {
    currency,
    timeZone: 'UTC',
    granularity: 'HOUR',
    from: iso(from),
    to: iso(from + DAY),
    prevFrom: iso(from - DAY),
    prevToDateTo: iso(from - DAY + Math.max(MINUTE, minute + MINUTE - from)),
    tailFrom: iso(Math.max(from, minute - 10 * MINUTE)),
    tailTo: iso(Math.min(from + DAY, minute + 5 * MINUTE)),
  };
}

function variablesFor(file: string, document: string, now: number): string | null {
  if (file === 'dashboard.graphql') return JSON.stringify(todayVariables(now), null, 2);
  const v = todayVariables(now);
  const declared = [...document.matchAll(/\$(\w+)\s*:/g)].map((m) => m[1]!);
  if (!declared.length) return null;
  return JSON.stringify(Object.fromEntries(declared.filter((k) => k in v).map((k) => [k, v[k as keyof typeof v]])), null, 2);
}

export function createGraphiQLOptions(o: { examplesDir?: string; clock: () => number; demoToken?: () => Promise<string> }) {
  const dir = o.examplesDir ?? EXAMPLES_DIR;
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.graphql'))
    .sort((a, b) => (FIRST.indexOf(a) + 1 || 99) - (FIRST.indexOf(b) + 1 || 99) || a.localeCompare(b));
  const examples = files.map((file) => ({ file, document: readFileSync(join(dir, file), 'utf8') }));

  return async function graphiqlOptions(): Promise<GraphiQLOptions> {
    const now = o.clock();
    const headers = o.demoToken ? JSON.stringify({ Authorization: `Bearer ${await o.demoToken()}` }, null, 2) : undefined;
    const tabs = examples.map((e) => ({ query: e.document, variables: variablesFor(e.file, e.document, now), headers: headers ?? null }));
    // Yoga's GraphiQL also reads `variables` (not in its type) for the first tab's editor;
    // without it the empty editor overwrites that tab's variables when it mounts.
    const firstTab = { variables: tabs[0]?.variables ?? undefined };
    return {
      ...firstTab,
      defaultQuery: examples[0]?.document,
      defaultTabs: tabs,
      ...(headers ? { headers, defaultHeaders: headers } : {}),
      // A demo token is per page load; don't keep it (or a pasted one) in localStorage.
      shouldPersistHeaders: false,
      defaultEditorToolsVisibility: headers ? 'headers' : 'variables',
    };
  };
}

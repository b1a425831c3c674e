/**
 * Dead letters for operators: one page of the caller's tenant, newest first, behind
 * an opaque cursor. The cursor is base64url JSON of the last row's (time, id) — the
 * keyset of the table's sort order — and is validated like any input.
 */
import { z } from 'zod';
import type { DeadLetters } from '../storage/dead-letters.ts';
import { badInput } from './series.ts';

export const MAX_PAGE = 100;
/** Raw payloads are shown cut to this many characters; `rawBytes` gives the stored size. */
export const RAW_EXCERPT_CHARS = 1024;

export interface DeadLetterItem {
  id: string;
  reason: string;
  source: string;
  receivedAt: number;
  issues: string;
  rawExcerpt: string;
  rawBytes: number;
}

export interface DeadLetterPage {
  edges: { cursor: string; node: DeadLetterItem }[];
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
}

const cursorSchema = z.object({ t: z.number().int().min(0), id: z.uuid() });

export const encodeCursor = (c: { ms: number; id: string }): string => Buffer.from(JSON.stringify({ t: c.ms, id: c.id })).toString('base64url');

export function decodeCursor(cursor: string): { ms: number; id: string } {
  try {
    const c = cursorSchema.parse(JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')));
    return { ms: c.t, id: c.id };
  } catch {
    throw badInput('`after` is not a cursor from this API: pass pageInfo.endCursor of the previous page');
  }
}

export async function listDeadLetters(store: DeadLetters, o: { tenantId: string; reason: string | null; first: number; after: string | null }): Promise<DeadLetterPage> {
  if (!Number.isInteger(o.first) || o.first < 1 || o.first > MAX_PAGE) throw badInput(`\`first\` must be between 1 and ${MAX_PAGE}`);
  if (o.reason !== null && !/^[a-z0-9_]{1,64}$/.test(o.reason)) throw badInput('`reason` is a snake_case reason such as "schema_violation"');
  const rows = await store.list({
    tenantId: o.tenantId,
    reason: o.reason ?? undefined,
    after: o.after ? decodeCursor(o.after) : undefined,
    limit: o.first + 1, // one more tells whether there is a next page
  });
  const edges = rows.slice(0, o.first).map((r) => ({
    cursor: encodeCursor({ ms: r.received_at_ms, id: r.id }),
    node: {
      id: r.id,
      reason: r.reason,
      source: r.source,
      receivedAt: r.received_at_ms,
      issues: r.issues,
      rawExcerpt: r.raw.slice(0, RAW_EXCERPT_CHARS),
      rawBytes: Buffer.byteLength(r.raw),
    },
  }));
  return { edges, pageInfo: { hasNextPage: rows.length > o.first, endCursor: edges.at(-1)?.cursor ?? null } };
}

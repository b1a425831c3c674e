/**
 * POST /v1/events: a JSON array or NDJSON (`application/x-ndjson`) body of events.
 * Answers `202 {accepted, duplicates, rejected:[{index, reason, issues}]}` only once
 * every counted event is with the sink (logged, or acknowledged by Kafka); see intake.ts.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { AuthError, requireScope, type Principal } from '../auth/tokens.ts';
import { setRequestTenant } from '../observability/request-context.ts';
import type { HttpItem, Intake } from './intake.ts';
import { reject } from './pipeline/steps.ts';

export class BodyTooLargeError extends Error {}

/** Reads the body, refusing more than `limit` bytes without buffering them. */
export async function readBody(req: IncomingMessage, limit: number): Promise<string> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit) throw new BodyTooLargeError();
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new BodyTooLargeError();
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Splits a body into items (the decode step of HTTP); `error`: the JSON body is not an array of items at all. */
export function splitItems(body: string, contentType: string): HttpItem[] | { error: string } {
  if (/application\/(x-)?ndjson/i.test(contentType)) {
    return body
      .split('\n')
      .filter((line) => line.trim() !== '')
      .map((raw) => {
        try {
          return { raw, item: { value: JSON.parse(raw) as unknown } };
        } catch (err) {
          return { raw, item: reject('invalid_json', (err as Error).message) };
        }
      });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch (err) {
    return { error: `Body is not valid JSON: ${(err as Error).message}` };
  }
  if (!Array.isArray(parsed)) return { error: 'Body must be a JSON array of events (or NDJSON with Content-Type: application/x-ndjson)' };
  return parsed.map((value) => ({ raw: JSON.stringify(value) ?? 'undefined', item: { value } }));
}

const send = (res: ServerResponse, status: number, body: unknown) => {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
  res.end(JSON.stringify(body));
};

export function createEventsHandler(deps: {
  intake: Intake;
  maxBodyBytes: number;
  authenticate: (req: IncomingMessage) => Promise<Principal | null>;
}) {
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (req.method !== 'POST') return send(res, 405, { error: 'Use POST' });
    let principal: Principal;
    try {
      principal = requireScope(await deps.authenticate(req), 'ingest');
      setRequestTenant(principal.tenantId);
    } catch (err) {
      if (err instanceof AuthError) return send(res, err.code === 'FORBIDDEN' ? 403 : 401, { error: err.message });
      throw err;
    }
    let body: string;
    try {
      body = await readBody(req, deps.maxBodyBytes);
    } catch (err) {
      if (err instanceof BodyTooLargeError) return send(res, 413, { error: `Body larger than ${deps.maxBodyBytes} bytes: send smaller batches` });
      throw err;
    }
    const items = splitItems(body, String(req.headers['content-type'] ?? ''));
    if ('error' in items) {
      await deps.intake.deadLetter(principal.tenantId, 'body_not_array', items.error, body);
      return send(res, 400, { error: items.error });
    }
    const result = await deps.intake.submit(principal.tenantId, items);
    send(res, 202, result);
  };
}

/**
 * chdb-server — a small ClickHouse-compatible HTTP endpoint over ONE chdb data
 * directory, so several processes (API replicas, Kafka workers, tests) can share
 * one ClickHouse where no real server exists. chdb binds one data directory per
 * process; this process owns it and everyone else talks HTTP, exactly as they
 * would to a server via CLICKHOUSE_URL.
 *
 *   node --import tsx scripts/chdb-server.ts --path <dir> [--port 8123]
 *
 * Prints the URL on stdout once ready; SIGTERM/SIGINT drain the queue and close
 * chdb. DEV/TEST ONLY: it listens on 127.0.0.1 only and accepts any user and
 * password (no auth, no TLS, no quotas).
 *
 * Speaks what @clickhouse/client sends: POST / with the SQL (or `query` URL param
 * plus data body for inserts), `param_<name>` query parameters, `query_id`,
 * `database`, `default_format`, settings as URL params, gzip/deflate/br request
 * bodies and responses (`enable_http_compression=1` + Accept-Encoding),
 * multipart params, GET /ping. Errors are HTTP 500 with the engine's
 * `Code: N. DB::Exception: …` text and `X-ClickHouse-Exception-Code`.
 *
 * The engine keeps SET and USE on its connection, which HTTP requests must not
 * see. Every request therefore runs as ONE engine call, strictly one at a time:
 *   USE <db>;                      only when the connection is on another database
 *   SET param_a = '<raw>', …;      params holding a backslash (see below)
 *   SET <setting> = …, …;          the diff from the settings the connection has now
 *   <the request's SQL and data>
 * Settings a request does not send are reset to the connection's start values,
 * so nothing leaks from one request into the next.
 *
 * Binary INSERT bodies in a self-describing format (`FORMAT RowBinaryWithNamesAndTypes`
 * or `Native`) are written to a spool file of the data directory and inserted with
 * `INSERT … SELECT … FROM file(…)`, as chdb's inserts take text only; other bodies are
 * read as UTF-8 text.
 *
 * Not supported: sessions (`session_id` is ignored, so no temporary tables or SET
 * across requests), native compression (`compress`/`decompress=1`), binary INSERT
 * formats without names and types in the body (`RowBinary`), streaming (results are buffered),
 * cancelling a running query, progress headers, system.query_log. Unlike a server it
 * accepts several statements in one request, does not enforce readonly on GET, and
 * reports written_rows 0 in X-ClickHouse-Summary.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { parseArgs, promisify } from 'node:util';
import zlib from 'node:zlib';
// This process IS the ClickHouse server for the others; the storage wrappers are its clients.
// eslint-disable-next-line no-restricted-imports
import { Session } from 'chdb';
import { z } from 'zod';

const HOST = '127.0.0.1';

/** URL params that steer the HTTP layer; they are never SET on the engine. */
const HTTP_ONLY = new Set([
  'query', 'query_id', 'database', 'default_format', 'user', 'password', 'quota_key', 'role',
  'session_id', 'session_timeout', 'session_check', 'compress', 'decompress', 'buffer_size',
  'wait_end_of_query', 'stacktrace', 'enable_http_compression', 'send_progress_in_http_headers',
  'cancel_http_readonly_queries_on_client_close', 'add_http_cors_header',
]);
const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;
// Every call is a parameterised one (a dummy parameter at least): chdb clears a bound
// call's parameters when it ends, including any `SET param_x` inside it, so parameters
// never outlive their request.
const SCOPE_PARAM = '__chdb_server';

/** A parsed HTTP request, ready for the engine. */
interface EngineRequest {
  text: string; // statement, plus inline data for INSERT
  statement: string; // the SQL part only (scanned for SET/USE)
  params: Map<string, string>; // raw, as the client sent them
  settings: Map<string, string>;
  database: string;
  format: string;
  /** `INSERT … FORMAT X` with an empty body: the engine rejects it, a server treats it as a no-op. */
  emptyInsert: boolean;
  /** The spool file holding a binary INSERT body (removed once the request is done). */
  spooled?: string;
}

/** `INSERT INTO t (a, b) FORMAT <binary>` whose body says its own names and types. */
const BINARY_INSERT = /^\s*INSERT\s+INTO\s+([\w.`"]+)\s*(?:\(([^)]*)\))?\s*FORMAT\s+(RowBinaryWithNamesAndTypes|Native)\s*$/i;
const BINARY_NEEDS_TYPES = /^\s*INSERT\b[\s\S]*\bFORMAT\s+RowBinary(WithNames)?\s*$/i;

class ClickHouseHttpError extends Error {
  constructor(readonly code: number, readonly type: string, message: string) {
    super(`Code: ${code}. DB::Exception: ${message}. (${type})`);
  }
}

/** ClickHouse SQL string literal; the engine decodes it back to the exact bytes. */
const literal = (v: string) => `'${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'").replace(/\0/g, '\\0')}'`;

/**
 * Splits `param_*` values by how they can reach the engine unchanged. The client sends
 * each value already in the server's text form (`['a','b\\'c']`, `x\\ty`); chdb's bind
 * API escapes a string's backslashes once more, which would change such a value, so
 * values with a backslash go in as `SET param_x = '<literal>'` (exact, but parsed as
 * SQL and so bounded by max_query_size), and all others through the bind API (no
 * size limit: long Array(String) lists of ids stay cheap).
 */
function splitParams(params: Map<string, string>) {
  const bound: Record<string, string> = { [SCOPE_PARAM]: '' };
  const set: string[] = [];
  for (const [k, v] of params) {
    if (v.includes('\\')) set.push(`param_${k} = ${literal(v)}`);
    else bound[k] = v;
  }
  return { bound, set };
}

async function createEngine(path: string) {
  mkdirSync(path, { recursive: true });
  const session = new Session(path);
  const ask = async (sql: string) =>
    (await session.queryAsync(`${sql} FORMAT JSONEachRow`, { format: 'JSONEachRow' })).text().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, string>);
  const knownSettings = new Set((await ask('SELECT name FROM system.settings')).map((r) => r.name!));
  // chdb starts with a few settings changed (e.g. implicit_select); "reset" means back to these.
  const startValues = new Map((await ask('SELECT name, value FROM system.settings WHERE changed')).map((r) => [r.name!, r.value!]));
  const changedNow = `SELECT name, value FROM system.settings WHERE changed OR name IN (${[...startValues.keys()].map(literal).join(', ') || "''"})`;
  const [{ version = '', tz = 'UTC' } = {}] = await ask('SELECT version() AS version, timezone() AS tz');
  const resetTo = (k: string) => (startValues.has(k) ? `${k} = ${literal(startValues.get(k)!)}` : `${k} = DEFAULT`);

  let applied = new Map<string, string>(); // settings this process SET and did not reset
  const touched = new Set<string>(); // every setting ever SET (reset all of them when unsure)
  let suspect = false; // a call that changed settings failed: applied is not trustworthy
  let foreign = false; // the request's own SQL ran SET: ask the engine what changed
  let database: string | null = null; // current database of the connection, null = unknown
  let tail: Promise<unknown> = Promise.resolve();

  async function prefixFor(r: EngineRequest): Promise<string[]> {
    const out: string[] = [];
    if (database !== r.database) out.push(`USE \`${r.database.replace(/\\/g, '\\\\').replace(/`/g, '\\`')}\``);
    const params = splitParams(r.params).set;
    if (params.length > 0) out.push(`SET ${params.join(', ')}`);
    const dirty = new Set<string>(suspect ? touched : []);
    if (foreign) {
      for (const { name, value } of await ask(changedNow)) {
        if (name !== undefined && startValues.get(name) !== value) dirty.add(name);
      }
    }
    const changes: string[] = [];
    for (const k of new Set([...applied.keys(), ...r.settings.keys(), ...dirty])) {
      const want = r.settings.get(k);
      if (want !== undefined && (dirty.has(k) || applied.get(k) !== want)) changes.push(`${k} = ${literal(want)}`);
      else if (want === undefined) changes.push(resetTo(k));
    }
    if (changes.length > 0) out.push(`SET ${changes.join(', ')}`);
    return out;
  }

  async function execute(r: EngineRequest) {
    for (const k of r.settings.keys()) {
      if (!knownSettings.has(k)) throw new ClickHouseHttpError(115, 'UNKNOWN_SETTING', `Unknown setting '${k}'`);
    }
    const prefix = await prefixFor(r);
    for (const k of r.settings.keys()) touched.add(k);
    try {
      const sql = [...prefix, r.text].join(';\n');
      const result = await session.queryBindAsync(sql, splitParams(r.params).bound, { format: r.format });
      applied = new Map(r.settings);
      suspect = false;
      foreign = /\bSET\b/i.test(r.statement);
      database = /\bUSE\b/i.test(r.statement) ? null : r.database;
      return result;
    } catch (err) {
      suspect = true;
      foreign ||= /\bSET\b/i.test(r.statement);
      database = null;
      throw err;
    }
  }

  return {
    version,
    timezone: tz,
    /** Runs one request; requests queue and run one at a time (connection state is shared). */
    run(r: EngineRequest) {
      const run = tail.then(() => execute(r));
      tail = run.catch(() => undefined);
      return run;
    },
    async close() {
      await tail;
      session.close();
    },
  };
}
type Engine = Awaited<ReturnType<typeof createEngine>>;

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const raw = Buffer.concat(chunks);
  const encoding = (req.headers['content-encoding'] ?? '').trim().toLowerCase();
  if (encoding === '' || encoding === 'identity') return raw;
  if (encoding === 'gzip') return promisify(zlib.gunzip)(raw);
  if (encoding === 'deflate') return promisify(zlib.inflate)(raw);
  if (encoding === 'br') return promisify(zlib.brotliDecompress)(raw);
  throw new ClickHouseHttpError(1001, 'STD_EXCEPTION', `Unsupported Content-Encoding '${encoding}'`);
}

/** Turns URL params (and multipart fields) plus body into an engine request. */
async function parseRequest(req: IncomingMessage, url: URL, spool: string, queryId: string): Promise<EngineRequest> {
  const fields = new Map(url.searchParams);
  let body = await readBody(req);
  const type = req.headers['content-type'] ?? '';
  if (type.startsWith('multipart/form-data')) {
    // The client moves long query params into a multipart body (use_multipart_params).
    const form = await new Response(Uint8Array.from(body), { headers: { 'content-type': type } }).formData();
    for (const [k, v] of form) fields.set(k, typeof v === 'string' ? v : await v.text());
    body = Buffer.alloc(0);
  }
  if (fields.get('decompress') === '1' || fields.get('compress') === '1') {
    throw new ClickHouseHttpError(1001, 'STD_EXCEPTION', 'ClickHouse native compression (compress/decompress=1) is not supported by chdb-server');
  }
  const query = fields.get('query') ?? '';
  if (BINARY_NEEDS_TYPES.test(query)) {
    throw new ClickHouseHttpError(1001, 'STD_EXCEPTION', 'chdb-server takes binary inserts as RowBinaryWithNamesAndTypes or Native only (the body must name its columns and types)');
  }
  const binary = BINARY_INSERT.exec(query);
  let spooled: string | undefined;
  let spooledText = '';
  if (binary && body.length > 0) {
    const [, table, columns, format] = binary;
    spooled = join(spool, `${queryId.replace(/[^\w-]/g, '_')}.bin`);
    writeFileSync(spooled, body);
    const list = columns?.trim() ? columns : '*';
    spooledText = `INSERT INTO ${table}${columns?.trim() ? ` (${columns})` : ''} SELECT ${list} FROM file(${literal(spooled)}, ${format})`;
    body = Buffer.alloc(0);
  }
  const data = body.toString('utf8');
  const params = new Map<string, string>();
  const settings = new Map<string, string>();
  for (const [k, v] of fields) {
    if (k.startsWith('param_')) {
      const name = k.slice('param_'.length);
      if (!IDENT.test(name)) throw new ClickHouseHttpError(36, 'BAD_ARGUMENTS', `Invalid query parameter name '${name}'`);
      params.set(name, v);
    } else if (!HTTP_ONLY.has(k) && !k.startsWith('http_')) {
      if (!IDENT.test(k)) throw new ClickHouseHttpError(115, 'UNKNOWN_SETTING', `Unknown setting '${k}'`);
      settings.set(k, v);
    }
  }
  const text = spooled ? spooledText : query === '' ? data : data === '' ? query : `${query}\n${data}`;
  if (text.trim() === '') throw new ClickHouseHttpError(62, 'SYNTAX_ERROR', 'Empty query');
  return {
    text,
    statement: query === '' ? data : query,
    params,
    settings,
    database: fields.get('database') || 'default',
    format: fields.get('default_format') || 'TabSeparated',
    emptyInsert: !spooled && /^\s*INSERT\b[\s\S]*\bFORMAT\s+\w+\s*$/i.test(query) && data.trim() === '',
    spooled,
  };
}

function toError(err: unknown): { code: number; text: string } {
  const message = err instanceof Error ? err.message : String(err);
  const m = /^Code: (\d+)\./.exec(message);
  if (m) return { code: Number(m[1]), text: message };
  return { code: 1001, text: new ClickHouseHttpError(1001, 'STD_EXCEPTION', message).message };
}

async function send(req: IncomingMessage, res: ServerResponse, status: number, body: Buffer | string, compress: boolean) {
  let out = typeof body === 'string' ? Buffer.from(body) : body;
  const accept = String(req.headers['accept-encoding'] ?? '');
  const codec = compress ? ['gzip', 'br', 'deflate'].find((c) => accept.includes(c)) : undefined;
  if (codec === 'gzip') out = await promisify(zlib.gzip)(out);
  if (codec === 'br') out = await promisify(zlib.brotliCompress)(out);
  if (codec === 'deflate') out = await promisify(zlib.deflate)(out);
  if (codec) res.setHeader('Content-Encoding', codec);
  res.writeHead(status, { 'Content-Length': out.length });
  res.end(out);
}

async function handle(engine: Engine, spool: string, req: IncomingMessage, res: ServerResponse) {
  const url = new URL(req.url ?? '/', `http://${HOST}`);
  if (url.pathname === '/ping' || url.pathname === '/replicas_status') return send(req, res, 200, 'Ok.\n', false);
  if (url.pathname !== '/' || (req.method !== 'GET' && req.method !== 'POST')) {
    return send(req, res, 404, `There is no handle ${url.pathname}\n`, false);
  }
  if (req.method === 'GET' && !url.searchParams.has('query')) return send(req, res, 200, 'Ok.\n', false);
  const queryId = url.searchParams.get('query_id') || randomUUID();
  const compress = ['1', 'true'].includes(url.searchParams.get('enable_http_compression') ?? '');
  res.setHeader('X-ClickHouse-Query-Id', queryId);
  res.setHeader('X-ClickHouse-Timezone', engine.timezone);
  res.setHeader('X-ClickHouse-Server-Display-Name', 'chdb-server');
  let request: EngineRequest | undefined;
  try {
    request = await parseRequest(req, url, spool, queryId);
    if (request.emptyInsert) return await send(req, res, 200, '', compress);
    const result = await engine.run(request);
    res.setHeader('Content-Type', 'text/plain; charset=UTF-8');
    res.setHeader('X-ClickHouse-Summary', JSON.stringify({
      // chdb reports rows/bytes of the result only; written_* stay 0 (approximate by design).
      read_rows: String(result.rowsRead), read_bytes: String(result.bytesRead), written_rows: '0', written_bytes: '0',
      total_rows_to_read: '0', result_rows: String(result.rowsRead), result_bytes: String(result.bytesRead),
      elapsed_ns: String(Math.round(result.elapsed * 1e9)),
    }));
    await send(req, res, 200, Buffer.from(result.bytes()), compress);
  } catch (err) {
    const { code, text } = toError(err);
    res.setHeader('X-ClickHouse-Exception-Code', String(code));
    res.setHeader('Content-Type', 'text/plain; charset=UTF-8');
    await send(req, res, 500, `${text} (version ${engine.version} chdb-server)\n`, compress);
  } finally {
    if (request?.spooled) rmSync(request.spooled, { force: true });
  }
}

const cliArgs = z.object({
  path: z.string().min(1, '--path <dir> is required'),
  port: z.coerce.number().int().min(0).max(65535).default(8123),
});

async function main() {
  const { values } = parseArgs({ options: { path: { type: 'string' }, port: { type: 'string' } } });
  const parsed = cliArgs.safeParse(values);
  if (!parsed.success) {
    process.stderr.write(`chdb-server: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}\n`);
    process.exit(2);
  }
  const engine = await createEngine(parsed.data.path);
  // Binary insert bodies (see parseRequest); left-overs of a crash are never referred to.
  const spool = join(parsed.data.path, 'spool');
  rmSync(spool, { recursive: true, force: true });
  mkdirSync(spool, { recursive: true });
  // Query params travel in the URL: allow 1 MiB like a server's http_max_uri_size (Node's default is 16 KiB).
  const server = createServer({ maxHeaderSize: 1 << 20 }, (req, res) => {
    handle(engine, spool, req, res).catch((err: unknown) => {
      process.stderr.write(`chdb-server: request failed: ${String(err)}\n`);
      res.destroy();
    });
  });
  server.on('error', (err) => {
    process.stderr.write(`chdb-server: ${err.message}\n`);
    process.exit(1);
  });
  server.listen(parsed.data.port, HOST, () => {
    const address = server.address();
    const port = typeof address === 'object' && address ? address.port : parsed.data.port;
    process.stdout.write(`http://${HOST}:${port}\n`);
  });

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`chdb-server: ${signal}, draining and closing chdb\n`);
    server.close();
    await engine.close(); // waits for queued requests, then releases the data directory
    server.closeAllConnections();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

await main();

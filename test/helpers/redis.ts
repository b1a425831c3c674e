/**
 * Redis for tests, without touching anyone else's.
 *
 * - `startRedisServer()`: a redis-server of the caller's own on a free port (temporary
 *   directory, no persistence: `--save "" --appendonly no`) that it may stop and start
 *   again on the same port. Tests that restart Redis use one of these, never the
 *   machine's shared Redis.
 * - `testRedisUrl()`: the Redis the other tests share: TILECAST_TEST_REDIS_URL, which
 *   test/global-setup.ts sets to a private redis-server for the run when it is not given.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports.ts';
import { waitFor } from './wait.ts';

export const REDIS_MISSING = 'redis-server not found: install it (Debian/Ubuntu: apt-get install redis-server) or set TILECAST_TEST_REDIS_URL';

/** The Redis shared by this test run (see the header); throws with what to do when there is none. */
export function testRedisUrl(): string {
  const url = process.env.TILECAST_TEST_REDIS_URL;
  if (!url) throw new Error(redisServerInstalled() ? 'TILECAST_TEST_REDIS_URL is not set: run the tests through vitest (test/global-setup.ts starts a private Redis)' : REDIS_MISSING);
  return url;
}

export function redisServerInstalled(): boolean {
  return !spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).error;
}

/** Whether something answers PING on `port` (a raw RESP round trip, no client library). */
export function pingRedis(port: number, host = '127.0.0.1', timeoutMs = 1_000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, host);
    let reply = '';
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.on('error', () => done(false));
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (d) => {
      reply += d.toString();
      if (reply.includes('\r\n')) done(reply.startsWith('+PONG'));
    });
  });
}

export interface RedisServer {
  readonly url: string;
  readonly port: number;
  /** Stops it (SIGTERM; nothing is saved), as `redis-cli shutdown nosave` would; resolves once it has exited. */
  stop(): Promise<void>;
  /** Starts it again on the same port (empty); resolves once it answers PING. No-op while it runs. */
  start(): Promise<void>;
  isUp(): Promise<boolean>;
  /** Stops it and removes its directory. */
  close(): Promise<void>;
}

/** A private redis-server on a free port of 127.0.0.1; throws REDIS_MISSING when redis-server is not installed. */
export async function startRedisServer(o: { label?: string } = {}): Promise<RedisServer> {
  if (!redisServerInstalled()) throw new Error(REDIS_MISSING);
  const dir = mkdtempSync(join(tmpdir(), `tilecast-redis-${o.label ?? 'test'}-`));
  const port = await freePort();
  let child: ChildProcess | null = null;
  let output = '';
  // Best effort: a test process that dies leaves no redis-server behind.
  const killOnExit = () => child?.kill('SIGKILL');
  process.once('exit', killOnExit);

  const isUp = () => pingRedis(port);
  async function start(): Promise<void> {
    if (child) return;
    const c = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--daemonize', 'no'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child = c;
    const keep = (b: Buffer) => (output = (output + b.toString()).slice(-4_000));
    c.stdout!.on('data', keep);
    c.stderr!.on('data', keep);
    c.once('exit', () => {
      if (child === c) child = null;
    });
    await waitFor(
      async () => {
        if (child !== c) throw new Error(`redis-server on port ${port} exited: ${output}`);
        return isUp();
      },
      { timeoutMs: 15_000, what: `redis-server on port ${port}` },
    );
  }

  async function stop(): Promise<void> {
    const c = child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      const kill = setTimeout(() => c.kill('SIGKILL'), 5_000);
      c.once('exit', () => {
        clearTimeout(kill);
        resolve();
      });
      c.kill('SIGTERM');
    });
  }

  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    stop,
    start,
    isUp,
    async close() {
      await stop();
      process.removeListener('exit', killOnExit);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

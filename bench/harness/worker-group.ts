/**
 * Real processes for bench/kafka-scaleout.ts: one chdb-server (scripts/chdb-server.ts,
 * the ClickHouse every worker shares through CLICKHOUSE_URL, as workers share a ClickHouse
 * server in production) and `tilecast worker` processes of a target checkout, with what
 * the bench reads from them: CPU time (Linux /proc), their Prometheus counters, the
 * partitions their /readyz lists, and SIGSTOP/SIGCONT to hold a group still while its
 * topic is filled. Stored totals are read over the server's HTTP interface with typed
 * parameters.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';

/** Polls `probe` until it returns a value other than undefined/false, or throws after `timeoutMs`. */
export async function until<T>(probe: () => T | undefined | false | Promise<T | undefined | false>, what: string, timeoutMs = 120_000, intervalMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** User + system CPU seconds of a process (all its threads), from /proc/<pid>/stat; 0 once it is gone. */
export function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / 100; // utime + stime, in USER_HZ (100 on Linux)
  } catch {
    return 0;
  }
}

interface Proc {
  proc: ChildProcess;
  pid: number;
  output: () => string;
  gone: () => boolean;
  /** SIGTERM, SIGKILL after `graceMs`; resolves once the process is gone. */
  stop: (graceMs?: number) => Promise<void>;
}

/** `dir` (the process's data directory) is removed once the process has stopped. */
function spawnNode(cwd: string, args: string[], env: NodeJS.ProcessEnv, dir: string): Proc {
  const proc = spawn(process.execPath, ['--import', 'tsx', ...args], { cwd, env: { ...process.env, TZ: 'UTC', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const keep = (c: Buffer) => (out = (out + c.toString()).slice(-20_000));
  proc.stdout!.on('data', keep);
  proc.stderr!.on('data', keep);
  const gone = () => proc.exitCode !== null || proc.signalCode !== null;
  return {
    proc,
    pid: proc.pid!,
    output: () => out,
    gone,
    async stop(graceMs = 30_000) {
      if (!gone()) {
        proc.kill('SIGCONT');
        proc.kill('SIGTERM');
        await until(gone, `pid ${proc.pid} to exit`, graceMs).catch(() => proc.kill('SIGKILL'));
        await until(gone, `pid ${proc.pid} to die`, 10_000);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface ChdbServer extends Proc {
  url: string;
  /** Events stored for `tenants`: summed over the `windows` snapshots (FINAL) and counted in the event log. */
  storedTotals(tenants: readonly string[]): Promise<{ windows: number; eventLog: number }>;
}

/** A chdb-server of `root` on a fresh data directory and a free port. */
export async function startChdbServer(root: string): Promise<ChdbServer> {
  const dir = mkdtempSync(join(tmpdir(), 'tilecast-scaleout-ch-'));
  const p = spawnNode(root, ['scripts/chdb-server.ts', '--path', dir, '--port', '0'], {}, dir);
  const url = await until(() => {
    if (p.gone()) throw new Error(`chdb-server exited: ${p.output()}`);
    return /^(http:\/\/127\.0\.0\.1:\d+)\n/.exec(p.output())?.[1];
  }, 'chdb-server URL', 60_000);
  const scalar = async (sql: string, tenants: readonly string[]) => {
    const q = new URLSearchParams({ default_format: 'JSONEachRow', param_t: `[${tenants.map((t) => `'${t.replaceAll("'", "\\'")}'`).join(',')}]` });
    const res = await fetch(`${url}/?${q}`, { method: 'POST', body: sql });
    const text = await res.text();
    if (!res.ok) throw new Error(`chdb-server: ${text}`);
    return z.object({ n: z.coerce.number() }).parse(JSON.parse(text)).n;
  };
  return {
    ...p,
    url,
    async storedTotals(tenants) {
      return {
        windows: await scalar('SELECT sum(purchases + signups + upgrades + churns) AS n FROM windows FINAL WHERE tenant_id IN {t:Array(String)}', tenants),
        eventLog: await scalar('SELECT count() AS n FROM events WHERE tenant_id IN {t:Array(String)}', tenants),
      };
    },
  };
}

const readyz = z.object({ partitions: z.array(z.object({ partition: z.number(), status: z.string() })) });

export interface WorkerProcess extends Proc {
  name: string;
  url: string;
  /** Sum of a counter's or gauge's series whose labels include `labels`. */
  metric(name: string, labels?: Record<string, string>): Promise<number>;
  /** Partitions /readyz lists as owned, with their state. */
  partitions(): Promise<{ partition: number; status: string }[]>;
  pause(): void;
  resume(): void;
  /** SIGKILL: a crash, nothing flushed or committed on the way out. */
  kill(): Promise<void>;
}

/** `tilecast worker` of `root` with `env` (KAFKA_*, CLICKHOUSE_URL, …); resolves once it serves /metrics. */
export async function startWorker(root: string, name: string, env: Record<string, string>): Promise<WorkerProcess> {
  const dataDir = mkdtempSync(join(tmpdir(), 'tilecast-scaleout-w-'));
  const p = spawnNode(root, ['src/cli/main.ts', 'worker'], { LOG_LEVEL: 'warn', WORKER_PORT: '0', DATA_DIR: dataDir, ...env }, dataDir);
  const url = await until(() => {
    if (p.gone()) throw new Error(`worker ${name} exited: ${p.output()}`);
    return /Metrics \/ health\s+(http:\/\/[\d.]+:\d+)\/metrics/.exec(p.output())?.[1];
  }, `worker ${name} to start`);
  return {
    ...p,
    name,
    url,
    async metric(metricName, labels = {}) {
      const text = await (await fetch(`${url}/metrics`)).text();
      let sum = 0;
      for (const line of text.split('\n')) {
        const m = /^(\w+)(\{[^}]*\})?\s+(\S+)$/.exec(line);
        if (!m || m[1] !== metricName) continue;
        if (Object.entries(labels).every(([k, v]) => (m[2] ?? '').includes(`${k}="${v}"`))) sum += Number(m[3]);
      }
      return sum;
    },
    async partitions() {
      const res = await fetch(`${url}/readyz`);
      return readyz.parse(await res.json()).partitions;
    },
    pause: () => p.proc.kill('SIGSTOP'),
    resume: () => p.proc.kill('SIGCONT'),
    async kill() {
      if (!p.gone()) p.proc.kill('SIGKILL');
      await until(p.gone, `worker ${name} to die`, 10_000);
      await p.stop(); // gone: only removes its data directory
    },
  };
}

export interface ApiProcess extends Proc {
  name: string;
  /** Base URL (GraphQL at /graphql). */
  url: string;
}

/** `tilecast api` of `root` with `env` (KAFKA_*, REDIS_URL, CLICKHOUSE_URL, AUTH_SECRET, …); resolves once it listens. */
export async function startApi(root: string, name: string, env: Record<string, string>): Promise<ApiProcess> {
  const dataDir = mkdtempSync(join(tmpdir(), 'tilecast-bench-api-'));
  const p = spawnNode(root, ['src/cli/main.ts', 'api'], { LOG_LEVEL: 'warn', PORT: '0', DATA_DIR: dataDir, ...env }, dataDir);
  const url = await until(() => {
    if (p.gone()) throw new Error(`api ${name} exited: ${p.output()}`);
    return /GraphQL \+ GraphiQL\s+(http:\/\/[\d.]+:\d+)\/graphql/.exec(p.output())?.[1];
  }, `api ${name} to start`);
  return { ...p, name, url };
}

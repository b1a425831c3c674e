/**
 * One side of a comparison (baseline or current) as a child process the harness talks to
 * over Node's IPC channel. A bench file started by the harness (`process.send` exists)
 * answers commands instead of printing its human report:
 *
 *   child  → parent  { type: 'ready', data }           setup done (e.g. data loaded)
 *   parent → child   { id, cmd, args }                 e.g. 'round', 'finish'
 *   child  → parent  { type: 'reply', id, data }       or { type: 'error', id?, message }
 *
 * A one-shot bench (one measurement per process) sends 'ready' with its result and exits.
 */
import { fork, type ChildProcess } from 'node:child_process';

export type Command = { id: number; cmd: string; args?: unknown };
type FromChild = { type: 'ready'; data: unknown } | { type: 'reply'; id: number; data: unknown } | { type: 'error'; id?: number; message: string };

/** True when this process was started by the harness as a side. */
export const underHarness = (): boolean => typeof process.send === 'function';

const send = (m: FromChild) => new Promise<void>((resolve, reject) => process.send!(m, undefined, {}, (err) => (err ? reject(err) : resolve())));

/**
 * Child side: reports `ready`, then serves commands until `finish` has been answered.
 * A handler's throw is sent to the parent (which fails the run) and ends the child.
 */
export async function serveSide(ready: unknown, handlers: Record<string, (args: unknown) => Promise<unknown>>): Promise<void> {
  await send({ type: 'ready', data: ready });
  let finished = false;
  process.once('disconnect', () => {
    if (!finished) process.exit(1); // the harness went away: do not keep the data loaded
  });
  await new Promise<void>((resolve) => {
    process.on('message', (m: Command) => {
      const handler = handlers[m.cmd];
      void (async () => {
        try {
          if (!handler) throw new Error(`unknown command ${m.cmd}`);
          await send({ type: 'reply', id: m.id, data: await handler(m.args) });
          if (m.cmd === 'finish') {
            finished = true;
            resolve();
          }
        } catch (err) {
          await send({ type: 'error', id: m.id, message: err instanceof Error ? (err.stack ?? err.message) : String(err) });
          finished = true;
          resolve();
          process.exitCode = 1;
        }
      })();
    });
  });
  process.disconnect();
}

/** Child side of a one-shot bench: sends its result (or its error) and returns. */
export async function reportResult(run: () => Promise<unknown>): Promise<void> {
  try {
    await send({ type: 'ready', data: await run() });
  } catch (err) {
    await send({ type: 'error', message: err instanceof Error ? (err.stack ?? err.message) : String(err) });
    process.exitCode = 1;
  }
  process.disconnect();
}

export interface Side<R = unknown> {
  /** What the child sent with 'ready'. */
  ready: Promise<R>;
  request<T>(cmd: string, args?: unknown): Promise<T>;
  /** Resolves when the process has exited (rejects on a non-zero exit). */
  exited: Promise<void>;
  kill(): void;
}

/**
 * Parent side: starts `script` (a bench file of the current checkout) with tsx, pointed at
 * `target` (the checkout whose src/ it drives). Its stdout/stderr go to `log` lines prefixed
 * with `label`, so two sides' progress stays readable.
 */
export function startSide<R = unknown>(o: { script: string; target: string; label: string; args?: string[]; env?: NodeJS.ProcessEnv; cwd: string }): Side<R> {
  const child: ChildProcess = fork(o.script, ['--target', o.target, ...(o.args ?? [])], {
    cwd: o.cwd,
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, ...o.env },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  for (const stream of [child.stdout!, child.stderr!]) {
    let buf = '';
    stream.on('data', (c: Buffer) => {
      buf += c.toString().replaceAll('\r', '\n');
      const lines = buf.split('\n');
      buf = lines.pop()!;
      for (const line of lines) if (line.trim()) process.stderr.write(`  [${o.label}] ${line}\n`);
    });
  }
  let nextId = 1;
  const waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  let failReady: (e: Error) => void = () => {};
  const ready = new Promise<R>((resolve, reject) => {
    failReady = reject;
    child.on('message', (m: FromChild) => {
      if (m.type === 'ready') resolve(m.data as R);
      else if (m.type === 'reply') waiting.get(m.id)?.resolve(m.data);
      else {
        const err = new Error(`${o.label}: ${m.message}`);
        if (m.id !== undefined) waiting.get(m.id)?.reject(err);
        else reject(err);
      }
      if (m.type !== 'ready' && m.id !== undefined) waiting.delete(m.id);
    });
  });
  ready.catch(() => {}); // observed by the caller; avoid an unhandled rejection meanwhile
  const exited = new Promise<void>((resolve, reject) => {
    child.once('exit', (code, signal) => {
      const err = new Error(`${o.label}: exited ${signal ?? code} (${o.script})`);
      failReady(err);
      for (const w of waiting.values()) w.reject(err);
      waiting.clear();
      if (code === 0) resolve();
      else reject(err);
    });
  });
  exited.catch(() => {});
  return {
    ready,
    exited,
    request: <T>(cmd: string, args?: unknown) =>
      new Promise<T>((resolve, reject) => {
        const id = nextId++;
        waiting.set(id, { resolve: resolve as (v: unknown) => void, reject });
        child.send({ id, cmd, args } satisfies Command);
      }),
    kill: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    },
  };
}

/**
 * The baseline checkout of a comparison: a directory given (`--baseline DIR` or
 * BENCH_BASELINE), or a git worktree of `--baseline-ref REF` (default `main`) made once
 * under a cache directory outside the clone (BENCH_CACHE_DIR, default
 * $XDG_CACHE_HOME/tilecast-bench or ~/.cache/tilecast-bench), one per commit, reused by
 * later runs. Its node_modules are hard links of the current checkout's (`cp -al`) when
 * both package-lock.json files are identical, else `npm ci` there.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import type { SideSpec } from './types.ts';

const git = (cwd: string, ...args: string[]) => execFileSync('git', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();

/** Short commit of a checkout, "+changes" when its tracked files differ from it. */
export function describeCheckout(dir: string): string {
  try {
    const sha = git(dir, 'rev-parse', '--short=9', 'HEAD');
    const dirty = git(dir, 'status', '--porcelain', '--untracked-files=no') !== '';
    return dirty ? `${sha}+changes` : sha;
  } catch {
    return 'not a git checkout';
  }
}

export function cacheDir(): string {
  return resolve(process.env.BENCH_CACHE_DIR ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'tilecast-bench'));
}

const sameFile = (a: string, b: string) => existsSync(a) && existsSync(b) && readFileSync(a).equals(readFileSync(b));

/** node_modules for `dir`: hard links of `root`'s when the lock files match, else npm ci. */
export function installModules(root: string, dir: string, log: (line: string) => void): void {
  if (existsSync(join(dir, 'node_modules'))) return;
  if (sameFile(join(root, 'package-lock.json'), join(dir, 'package-lock.json')) && existsSync(join(root, 'node_modules'))) {
    log(`baseline: package-lock.json identical, linking node_modules (cp -al)`);
    try {
      execFileSync('cp', ['-al', join(root, 'node_modules'), join(dir, 'node_modules')], { stdio: 'inherit' });
      return;
    } catch (err) {
      log(`baseline: cp -al failed (${String(err)}), falling back to npm ci`);
      execFileSync('rm', ['-rf', join(dir, 'node_modules')]);
    }
  } else log(`baseline: package-lock.json differs from the current checkout's, running npm ci`);
  execFileSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: dir, stdio: ['ignore', 2, 2] });
}

/** The baseline side: an explicit directory, or the cached worktree of `ref` (made if missing). */
export function resolveBaseline(o: { root: string; dir?: string; ref?: string; log: (line: string) => void }): SideSpec {
  if (o.dir) {
    const dir = resolve(o.dir);
    if (!existsSync(join(dir, 'src'))) throw new Error(`baseline ${dir}: no src/ there`);
    if (!existsSync(join(dir, 'node_modules'))) installModules(o.root, dir, o.log);
    return { name: 'baseline', dir, commit: describeCheckout(dir) };
  }
  const ref = o.ref ?? 'main';
  let sha: string;
  try {
    sha = git(o.root, 'rev-parse', '--verify', `${ref}^{commit}`);
  } catch {
    throw new Error(`--baseline-ref ${ref}: not a commit in ${o.root}`);
  }
  const dir = join(cacheDir(), `baseline-${sha.slice(0, 12)}`);
  if (existsSync(dir)) {
    if (git(dir, 'rev-parse', 'HEAD') !== sha) throw new Error(`${dir} is not at ${sha}: remove it (git worktree remove --force ${dir})`);
    o.log(`baseline: reusing the worktree of ${ref} (${sha.slice(0, 9)}) at ${dir}`);
  } else {
    mkdirSync(cacheDir(), { recursive: true });
    git(o.root, 'worktree', 'prune');
    o.log(`baseline: creating a worktree of ${ref} (${sha.slice(0, 9)}) at ${dir}`);
    git(o.root, 'worktree', 'add', '--detach', dir, sha);
  }
  installModules(o.root, dir, o.log);
  return { name: 'baseline', dir, commit: describeCheckout(dir) };
}

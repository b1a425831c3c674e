/**
 * Issue 16 item 3: `tilecast api` with Kafka but without REDIS_URL would start, say it is
 * ready, and never move a tile (its updates and freshness come from the workers over
 * Redis). It is refused at start, before connecting to anything, with what to set.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createApiApp } from '../../src/app/api.ts';
import { ConfigError, loadConfig, requireApiConfig } from '../../src/config/index.ts';
import { freshDataDir } from '../helpers/app.ts';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
// Nothing listens on the discard port: an attempt to connect would hang in kafkajs retries, not answer.
const NO_BROKER = '127.0.0.1:9';

function runCli(args: string[], env: Record<string, string>): Promise<{ code: number | null; stderr: string; stdout: string }> {
  const base = { ...process.env };
  for (const k of ['REDIS_URL', 'KAFKA_BROKERS', 'CLICKHOUSE_URL']) delete base[k];
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { cwd: REPO, env: { ...base, LOG_LEVEL: 'silent', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, stderr, stdout })));
}

describe('tilecast api refuses a configuration that cannot work', () => {
  it('Kafka without REDIS_URL: exits 1 at start, saying what to set', async () => {
    const r = await runCli(['api'], { KAFKA_BROKERS: NO_BROKER, DATA_DIR: freshDataDir('api-config'), PORT: '0' });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^Invalid configuration:\n {2}- REDIS_URL: `tilecast api` gets window updates and freshness from the workers over Redis; set REDIS_URL/);
  });

  it('lists every missing part at once', () => {
    let err: unknown;
    try {
      requireApiConfig(loadConfig({}));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).problems.map((p) => p.split(':')[0])).toEqual(['KAFKA_BROKERS', 'REDIS_URL']);
  });

  it('createApiApp refuses before connecting to Kafka or storage', async () => {
    const started = performance.now();
    await expect(createApiApp({ config: loadConfig({ KAFKA_BROKERS: NO_BROKER, DATA_DIR: freshDataDir('api-config'), LOG_LEVEL: 'silent' }) })).rejects.toThrow(ConfigError);
    expect(performance.now() - started).toBeLessThan(1_000);
  });

  it('accepts Kafka with REDIS_URL', () => {
    const c = requireApiConfig(loadConfig({ KAFKA_BROKERS: NO_BROKER, REDIS_URL: 'redis://127.0.0.1:6379' }));
    expect(c.kafka.brokers).toEqual([NO_BROKER]);
    expect(c.redisUrl).toBe('redis://127.0.0.1:6379');
  });
});

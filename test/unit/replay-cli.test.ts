/** `tilecast replay` arguments and its progress reporting (TTY line with ETA, plain lines otherwise). */
import { describe, expect, it } from 'vitest';
import { createProgress, formatDuration, progressLine } from '../../src/cli/progress.ts';
import { parseReplayArgs, UsageError } from '../../src/cli/replay.ts';

describe('replay arguments', () => {
  it('parses a valid range', () => {
    expect(parseReplayArgs(['--tenant', 'acme', '--from', '2026-01-01T00:00:00Z', '--to', '2026-01-02T00:00:00Z'])).toEqual({
      tenantId: 'acme',
      from: Date.UTC(2026, 0, 1),
      to: Date.UTC(2026, 0, 2),
      chunkSize: 200,
    });
  });

  it('lists every problem at once', () => {
    let err: unknown;
    try {
      parseReplayArgs(['--tenant', 'a b', '--from', 'yesterday', '--to', '2026-01-01T00:00:00Z', '--chunk-size', '0']);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UsageError);
    expect((err as Error).message.split('\n')).toHaveLength(3);
    expect(() => parseReplayArgs(['--tenant', 'acme', '--from', '2026-01-02T00:00:00Z', '--to', '2026-01-01T00:00:00Z'])).toThrow('--from must be before --to');
    expect(() => parseReplayArgs(['--from', '2026-01-01T00:00:00Z', '--to', '2026-01-02T00:00:00Z'])).toThrow('--tenant is required');
  });
});

describe('progress', () => {
  it('shows a bar, the rate and an ETA from the rate so far', () => {
    expect(progressLine(250, 1000, 5_000, 'windows', 10)).toBe('[###·······]  25% 250/1000 windows · 50/s · ETA 0:15');
    expect(progressLine(1000, 1000, 5_000, 'windows', 10)).toMatch(/100% 1000\/1000 windows .* ETA 0:00$/);
    expect(progressLine(0, 10, 0, 'windows', 10)).toMatch(/ETA \?$/);
    expect(formatDuration(3_723_000)).toBe('1:02:03');
  });

  it('redraws one line on a terminal and prints plain lines (about every 10%) otherwise', () => {
    let now = 0;
    const tty: string[] = [];
    const a = createProgress({ unit: 'windows', clock: () => now, stream: { isTTY: true, write: (s: string) => tty.push(s) } });
    const plain: string[] = [];
    const b = createProgress({ unit: 'windows', clock: () => now, stream: { isTTY: false, write: (s: string) => plain.push(s) } });
    for (let done = 0; done <= 100; done += 1) {
      now += 50;
      a.update(done, 100);
      b.update(done, 100);
    }
    a.finish();
    expect(tty.every((s, i) => (i === tty.length - 1 ? s === '\n' : s.startsWith('\r')))).toBe(true);
    expect(tty.length).toBeLessThan(60); // throttled to one redraw per 100 ms
    expect(plain.every((s) => s.endsWith('\n') && !s.includes('\r'))).toBe(true);
    expect(plain).toHaveLength(11);
    expect(plain.at(-1)).toMatch(/100% 100\/100 windows/);
  });
});

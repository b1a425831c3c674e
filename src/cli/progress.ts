/**
 * A progress reporter for long CLI jobs: on a terminal one line redrawn in place
 * (`[#####·····] 48% 960/2000 windows · 310/s · ETA 0:03`), otherwise plain lines (log
 * files and CI): one every 10% or every 5 s, whichever comes first.
 */
export interface ProgressOptions {
  unit: string;
  stream?: NodeJS.WriteStream | { write(s: string): unknown; isTTY?: boolean };
  clock?: () => number;
  width?: number;
}

export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return '?';
  const s = Math.max(0, Math.round(ms / 1000));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${sec}` : `${m}:${sec}`;
}

/** The line for `done` of `total` after `elapsedMs`; the ETA assumes the rate so far holds. */
export function progressLine(done: number, total: number, elapsedMs: number, unit: string, width = 24): string {
  const ratio = total > 0 ? Math.min(1, done / total) : 1;
  const filled = Math.round(ratio * width);
  const rate = elapsedMs > 0 ? (done / elapsedMs) * 1000 : 0;
  const eta = done >= total ? 0 : rate > 0 ? ((total - done) / rate) * 1000 : Infinity;
  return `[${'#'.repeat(filled)}${'·'.repeat(width - filled)}] ${String(Math.floor(ratio * 100)).padStart(3)}% ${done}/${total} ${unit} · ${rate.toFixed(rate < 10 ? 1 : 0)}/s · ETA ${formatDuration(eta)}`;
}

export function createProgress(o: ProgressOptions) {
  const stream = o.stream ?? process.stderr;
  const clock = o.clock ?? Date.now;
  const tty = Boolean(stream.isTTY);
  const started = clock();
  let lastDrawn = -Infinity;
  let lastDecile = -1;
  let lastLine = '';
  return {
    update(done: number, total: number): void {
      const now = clock();
      const line = progressLine(done, total, now - started, o.unit, o.width);
      if (tty) {
        if (now - lastDrawn < 100 && done < total) return;
        stream.write(`\r${line}\u001b[K`);
      } else {
        const decile = total > 0 ? Math.floor((done / total) * 10) : 10;
        if (decile === lastDecile && now - lastDrawn < 5_000) return;
        lastDecile = decile;
        stream.write(`${line}\n`);
      }
      lastDrawn = now;
      lastLine = line;
    },
    /** Ends the redrawn line (TTY) so later output starts on a fresh one. */
    finish(): void {
      if (tty && lastLine) stream.write('\n');
    },
  };
}

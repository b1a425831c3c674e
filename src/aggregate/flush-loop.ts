/**
 * When an aggregator flushes: one flush at a time, callers arriving during a flush share
 * the next one, and a timer repeats it every `intervalMs` — backing off exponentially
 * (up to MAX_BACKOFF_MS) while flushes fail. What a flush does is the caller's `flushOnce`.
 */
import type { Logger } from '../observability/logger.ts';
import type { Metrics } from '../observability/metrics.ts';

const MAX_BACKOFF_MS = 30_000;

export interface FlushLoopOptions {
  flushOnce: () => Promise<unknown>;
  intervalMs: number;
  logger: Logger;
  metrics: Pick<Metrics, 'flushErrors'>;
}

export function createFlushLoop(o: FlushLoopOptions) {
  const { logger, metrics } = o;
  let timer: NodeJS.Timeout | null = null;
  let running = false;
  let failures = 0;
  let flushing: Promise<void> | null = null;
  /** The flush after the running one, for callers that arrived while it ran. */
  let queued: Promise<void> | null = null;
  let released = false;

  /**
   * One flush at a time. When it resolves, everything ingested before the call is
   * written: a caller arriving while a flush runs (which may have collected before the
   * caller's events) gets the next flush, shared by everyone who arrived meanwhile.
   */
  function flush(): Promise<void> {
    if (!flushing) return startFlush();
    queued ??= flushing
      .catch(() => undefined)
      .then(() => {
        queued = null;
        if (released) return; // a released aggregator writes nothing more
        return flushing ?? startFlush();
      });
    return queued;
  }

  function startFlush(): Promise<void> {
    flushing = o
      .flushOnce()
      .then(() => {
        failures = 0;
      })
      .catch((err: unknown) => {
        failures += 1;
        metrics.flushErrors.inc();
        logger.error({ err: err instanceof Error ? err.message : String(err), failures }, 'flush failed; will retry');
        throw err;
      })
      .finally(() => {
        flushing = null;
      });
    return flushing;
  }

  function schedule(): void {
    if (!running) return;
    const delay = failures === 0 ? o.intervalMs : Math.min(MAX_BACKOFF_MS, o.intervalMs * 2 ** failures);
    timer = setTimeout(() => {
      flush()
        .catch(() => undefined)
        .finally(schedule);
    }, delay);
  }

  function stopTimer(): void {
    running = false;
    if (timer) clearTimeout(timer);
    timer = null;
  }

  return {
    flush,

    start(): void {
      if (running) return;
      running = true;
      schedule();
    },

    /** Stops the timer and runs a last flush (its failure is logged, not thrown). */
    async stop(): Promise<void> {
      stopTimer();
      await flush().catch(() => undefined);
    },

    /** Stops the timer; a flush queued behind a running one no longer runs. */
    release(): void {
      stopTimer();
      released = true;
    },

    isRunning: (): boolean => running,
    isReleased: (): boolean => released,
  };
}

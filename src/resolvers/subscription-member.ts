/**
 * One open subscription inside the subscription hub: its filter, where its values go,
 * and the bookkeeping that keeps its revisions per window from repeating or going
 * backwards when storage and live updates overlap.
 *
 * The rule: a member skips a revision only if it was itself sent that revision (or a
 * newer one) of the window — never because the tenant, another member or a storage
 * read saw it. Live updates that arrive during a catch-up are held, not sent, so they
 * count for nothing until they are released (after what storage returned).
 */
import type { GraphQLError } from 'graphql';
import type { SubscriptionConnection } from './connection.ts';
import type { Freshness } from './freshness.ts';
import type { WindowSelection } from './window-selection.ts';
import type { MetricUpdate, Stream } from './windows-stream.ts';

export type Topic = 'windows' | 'freshness';
export type Value = MetricUpdate | Freshness;

/** Values queued per subscription (per-subscriber mode, or held during a catch-up). */
export const MAX_QUEUE = 10_000;
/**
 * Windows whose sent revision a member remembers (least recently sent forgotten first).
 * Forgetting one costs at most a repeat of a revision it already has, sent again by a
 * later catch-up (never an older one: storage holds at least every revision published
 * before its read began, and what is published after is held).
 */
export const SENT_WINDOWS = 512;

/** One window's values for a member: every metric and slice it asked for, of one revision. */
export interface WindowValues {
  /** windowKey() of the window (currency '' for a merged minute). */
  key: string;
  revision: number;
  values: readonly MetricUpdate[];
}

export type CatchUpResult = { windows: readonly WindowValues[] } | { error: GraphQLError };

export function createMember(o: {
  topic: Topic;
  tenantId: string;
  /** windows only: what it asked for (null for freshness). */
  selection: WindowSelection | null;
  connection: SubscriptionConnection | undefined;
  stream: Stream<Value>;
  deliver(value: Value): void;
  release(): void;
  /** It fell MAX_QUEUE behind. */
  onSlow(): void;
}) {
  let catchingUp = 0;
  let held: WindowValues[] = [];
  let heldValues = 0;
  /** Newest revision sent per window (recently sent windows; see SENT_WINDOWS). */
  const sent = new Map<string, number>();
  /** Sent from storage during the current catch-up(s), all of them: what held updates are checked against on release. */
  let fromStorage: Map<string, number> | null = null;

  const sentRevision = (key: string): number => Math.max(sent.get(key) ?? 0, fromStorage?.get(key) ?? 0);

  function send(w: WindowValues): void {
    if (w.revision <= sentRevision(w.key)) return;
    for (const v of w.values) o.deliver(v);
    sent.delete(w.key); // re-insert: Map order = least recently sent first
    sent.set(w.key, w.revision);
    if (sent.size > SENT_WINDOWS) sent.delete(sent.keys().next().value!);
  }

  /** A live update of one window: held while a catch-up runs; otherwise sent unless this member already has that revision or a newer one. */
  function offer(w: WindowValues): void {
    if (o.stream.ended) return;
    if (catchingUp > 0) {
      if (heldValues + w.values.length > MAX_QUEUE) return o.onSlow();
      held.push(w);
      heldValues += w.values.length;
      return;
    }
    send(w);
  }

  return {
    topic: o.topic,
    tenantId: o.tenantId,
    selection: o.selection,
    /** The base windows' currency a windows member wants; null: every one. */
    currency: o.selection?.currency ?? null,
    connection: o.connection,
    stream: o.stream,
    deliver: o.deliver,
    release: o.release,
    offer,
    /** The newest revision of the window this member was sent (0: none, or forgotten). */
    sentRevision,
    beginCatchUp(): void {
      if (catchingUp++ === 0) fromStorage = new Map();
    },
    /** Sends what storage returned (minus what this member has), then — after the last catch-up — what was held meanwhile. */
    endCatchUp(result: CatchUpResult): void {
      catchingUp -= 1;
      if (o.stream.ended) return;
      if ('error' in result) return o.stream.fail(result.error);
      for (const w of result.windows) {
        if (w.revision <= sentRevision(w.key)) continue;
        send(w);
        fromStorage?.set(w.key, w.revision);
      }
      if (catchingUp > 0) return;
      const release = held;
      held = [];
      heldValues = 0;
      for (const w of release) send(w);
      fromStorage = null;
    },
  };
}

export type Member = ReturnType<typeof createMember>;

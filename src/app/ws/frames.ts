/**
 * Work once per update, not once per subscriber.
 *
 * graphql-ws (like every GraphQL subscription server) executes the selection set and
 * serialises a `next` frame separately for each subscriber of each event. Live tiles
 * of one tenant mostly send the same few operations, so here subscribers are grouped
 * by what their result depends on — tenant, selection set (root arguments removed:
 * they only choose *which* updates a subscriber gets) and the variables used inside
 * it. Each value is executed and serialised once per group; each subscriber's frame is
 * its own id spliced around that JSON, written straight to its websocket.
 *
 * The frame is exactly what graphql-ws would send (`{"id","type":"next","payload"}`);
 * graphql-ws still owns the subscription's lifecycle (subscribe, complete, errors).
 */
import {
  GraphQLError,
  Kind,
  OperationTypeNode,
  execute,
  print,
  visit,
  type DocumentNode,
  type ExecutionResult,
  type GraphQLResolveInfo,
} from 'graphql';
import type { Logger } from '../../observability/logger.ts';

/** The part of a `ws` WebSocket the fan-out uses (all public API). */
export interface FrameSocket {
  readonly readyState: number;
  /** Bytes accepted by send() but not yet handed to the kernel. */
  readonly bufferedAmount: number;
  send(data: string): void;
  terminate(): void;
}

/** The TCP socket under a websocket, which can batch writes. */
export interface Corkable {
  cork(): void;
  uncork(): void;
}

/**
 * A websocket and the TCP socket it runs on. `net` is the upgrade request's socket
 * (`IncomingMessage.socket`): the same object ws writes to, reached through Node's
 * public API rather than ws's private `_socket`. null: frames are written one by one.
 */
export interface FrameTarget {
  socket: FrameSocket;
  net: Corkable | null;
}

const OPEN = 1;

export interface FrameGroup {
  /** The serialised `payload` of a `next` frame for `value` (cached per value object); null if it cannot be shared. */
  payload(value: object): string | null;
}

interface Group extends FrameGroup {
  key: string;
  refs: number;
}

/** The operation with only what each event's execution needs: the root field(s) without arguments. */
function selectionDocument(info: GraphQLResolveInfo): { document: DocumentNode; used: string[] } {
  const root = info.fieldNodes.map((n) => ({ ...n, arguments: [] }));
  const fragments = Object.values(info.fragments);
  const used = new Set<string>();
  for (const node of [...root, ...fragments]) visit(node, { Variable: (v) => void used.add(v.name.value) });
  const document: DocumentNode = {
    kind: Kind.DOCUMENT,
    definitions: [
      {
        kind: Kind.OPERATION_DEFINITION,
        operation: OperationTypeNode.SUBSCRIPTION,
        variableDefinitions: (info.operation.variableDefinitions ?? []).filter((d) => used.has(d.variable.name.value)),
        directives: [],
        selectionSet: { kind: Kind.SELECTION_SET, selections: root },
      },
      ...fragments,
    ],
  };
  return { document, used: [...used].sort() };
}

const isPromise = (x: unknown): x is Promise<unknown> => typeof (x as { then?: unknown })?.then === 'function';

export function createFrameGroups(deps: { logger: Logger }) {
  const groups = new Map<string, Group>();

  /** Errors that are not GraphQLErrors are masked like yoga masks them; the original is logged. */
  function masked(result: ExecutionResult): ExecutionResult {
    if (!result.errors) return result;
    const errors = result.errors.map((e) => {
      if (!e.originalError || e.originalError instanceof GraphQLError) return e;
      deps.logger.error({ err: e.originalError.message, path: e.path }, 'subscription field failed');
      return new GraphQLError('Unexpected error.', { path: e.path, nodes: e.nodes });
    });
    return { ...result, errors };
  }

  return {
    /** The group for this subscriber (created on first use); pair with release(). */
    acquire(o: { tenantId: string; info: GraphQLResolveInfo; contextValue: unknown; variables: Readonly<Record<string, unknown>> }): FrameGroup {
      const { document, used } = selectionDocument(o.info);
      const variableValues = Object.fromEntries(used.map((name) => [name, o.variables[name]]));
      const key = `${o.tenantId}\n${print(document)}\n${JSON.stringify(variableValues)}`;
      const existing = groups.get(key);
      if (existing) {
        existing.refs += 1;
        return existing;
      }
      const cache = new WeakMap<object, string | null>();
      const { schema } = o.info;
      const group: Group = {
        key,
        refs: 1,
        payload(value) {
          const hit = cache.get(value);
          if (hit !== undefined) return hit;
          const result = execute({ schema, document, rootValue: value, contextValue: o.contextValue, variableValues });
          let json: string | null = null;
          if (isPromise(result)) {
            // Sharing needs every field of the payload to resolve synchronously.
            deps.logger.error({ group: key }, 'subscription selection resolved asynchronously; frame not sent');
            void result.catch(() => undefined);
          } else json = JSON.stringify(masked(result));
          cache.set(value, json);
          return json;
        },
      };
      groups.set(key, group);
      return group;
    },
    release(group: FrameGroup): void {
      const g = group as Group;
      g.refs -= 1;
      if (g.refs === 0 && groups.get(g.key) === g) groups.delete(g.key);
    },
    size: (): number => groups.size,
  };
}

export type FrameGroups = ReturnType<typeof createFrameGroups>;

/** Corked bytes of one socket are written out once they exceed this, even mid-tick. */
const CORK_FLUSH_BYTES = 64 * 1024;

/**
 * Writes frames to sockets, for every shared subscription of a websocket server.
 *
 * - Batching: the frames a socket gets in one tick (one bus message fans out to every
 *   tile of a dashboard) leave in one write: the TCP socket is corked at its first frame
 *   and uncorked at the end of the tick (or every CORK_FLUSH_BYTES). ws writes each
 *   frame on its own otherwise, and that syscall was half the server's CPU in a burst
 *   (bench/subscriptions.ts). ws exposes no cork(); the TCP socket comes with the
 *   target (FrameTarget.net).
 * - Slow consumers: a socket whose unsent bytes (ws `bufferedAmount`, less what this tick
 *   still holds corked) exceed `maxBufferedBytes` cannot keep up: it is terminated (its
 *   client reconnects and resumes with `since`) instead of buffering without bound.
 *   Bytes of a catch-up (`bulk`) are allowed on top until they drain, so a healthy
 *   client receiving a large resume is not mistaken for a slow one.
 */
export function createFrameWriter(o: { maxBufferedBytes: number }) {
  const inTick = new Map<FrameSocket, { net: Corkable | null; corked: number; corkedLive: number }>();
  const bulkAllowance = new WeakMap<FrameSocket, number>();
  const endTick = () => {
    for (const t of inTick.values()) t.net?.uncork();
    inTick.clear();
  };
  return {
    /**
     * Writes one frame (framePrefix(id) + payload JSON + `}`); `bulk`: part of a catch-up.
     * A socket over the limit is terminated and `onSlow` runs (once: later writes find it closed).
     */
    write(target: FrameTarget, frame: string, bulk: boolean, onSlow: () => void): void {
      const s = target.socket;
      if (s.readyState !== OPEN) return;
      let t = inTick.get(s);
      if (!t) {
        const { net } = target;
        net?.cork();
        if (inTick.size === 0) process.nextTick(endTick);
        inTick.set(s, (t = { net, corked: 0, corkedLive: 0 }));
      }
      const backlog = s.bufferedAmount - t.corkedLive;
      const allowed = bulkAllowance.get(s) ?? 0;
      const allowance = Math.min(allowed, Math.max(0, backlog)); // drained catch-up bytes are no longer allowed
      if (allowance !== allowed) bulkAllowance.set(s, allowance);
      if (backlog - allowance > o.maxBufferedBytes) {
        onSlow();
        s.terminate();
        return;
      }
      s.send(frame);
      if (bulk) bulkAllowance.set(s, allowance + frame.length);
      else if (t.net) t.corkedLive += frame.length;
      t.corked += frame.length;
      if (t.net && t.corked > CORK_FLUSH_BYTES) {
        t.net.uncork();
        t.net.cork();
        t.corked = 0;
        t.corkedLive = 0;
      }
    },
  };
}

export type FrameWriter = ReturnType<typeof createFrameWriter>;

/** The `next` frame of subscription `id` around a shared payload: exactly what graphql-ws would send. */
export function framePrefix(id: string): string {
  return `{"id":${JSON.stringify(id)},"type":"next","payload":`;
}

/**
 * One graphql-ws subscription's connection, as the subscription hub sees it
 * (src/resolvers/connection.ts): shared frames written to its websocket, and a way to
 * drop the websocket when it cannot keep up.
 */
import type { SharedFrames, SubscriptionConnection } from '../../resolvers/connection.ts';
import { framePrefix, type FrameGroups, type FrameTarget, type FrameWriter } from './frames.ts';

/** Frame sharing of one websocket server: the groups of identical selections and the writer for every socket. */
export interface FrameSharing {
  groups: FrameGroups;
  writer: FrameWriter;
}

export function createWsConnection(o: {
  target: FrameTarget;
  /** The graphql-ws subscription id. */
  id: string;
  /** The subscribe message's variables (the group key includes those the selection uses). */
  variables: Readonly<Record<string, unknown>>;
  sharing: FrameSharing;
}): SubscriptionConnection {
  const { target, sharing } = o;
  return {
    shareFrames({ tenantId, info, contextValue, onSlow }): SharedFrames {
      const group = sharing.groups.acquire({ tenantId, info, contextValue, variables: o.variables });
      const prefix = framePrefix(o.id);
      return {
        send(value, bulk) {
          const json = group.payload(value);
          if (json !== null) sharing.writer.write(target, `${prefix}${json}}`, bulk, onSlow);
        },
        release: () => sharing.groups.release(group),
      };
    },
    drop: () => target.socket.terminate(),
  };
}

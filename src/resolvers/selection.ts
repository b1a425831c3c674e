/**
 * What an operation's selection asks for, where a resolver can save work by knowing it.
 * Conservative: a field named anywhere in the operation or its fragments counts as asked
 * for by every series of that operation, so nothing requested is ever left out.
 */
import { BREAK, visit, type GraphQLResolveInfo } from 'graphql';

const tracesAsked = new WeakMap<object, boolean>();

/** Whether the operation selects `traceIds` anywhere: series read trace samples only then. */
export function asksForTraceIds(info: Pick<GraphQLResolveInfo, 'operation' | 'fragments'>): boolean {
  let asked = tracesAsked.get(info.operation);
  if (asked === undefined) {
    asked = false;
    for (const node of [info.operation, ...Object.values(info.fragments)]) {
      visit(node, {
        Field(field) {
          if (field.name.value !== 'traceIds') return undefined;
          asked = true;
          return BREAK;
        },
      });
      if (asked) break;
    }
    tracesAsked.set(info.operation, asked);
  }
  return asked;
}

/**
 * The schema id Tilecast's own producers (POST /v1/events through `tilecast api`, `tilecast
 * simulate --target kafka`, src/producer/) frame their records with: the id of the events'
 * model's events' schema (src/model/json-schema.ts) under the subject. Looked up, never registered: registering is
 * `tilecast schema push`'s job, so a contract change reaches the registry only through its
 * compatibility check. One lookup per process; a failed one is tried again on the next send.
 */
import { RegistryRequestError, createRegistryClient } from './client.ts';

/** `schema`: the registered schema's text (eventsJsonSchemaText of the model), or how to get it. */
export function createSchemaIdSource(o: { url: string; subject: string; schema: string | (() => Promise<string>); timeoutMs?: number }): () => Promise<number> {
  const client = createRegistryClient({ url: o.url, timeoutMs: o.timeoutMs });
  let id: Promise<number> | null = null;
  return () => {
    id ??= (typeof o.schema === 'string' ? Promise.resolve(o.schema) : o.schema())
      .then((schema) => client.lookup(o.subject, schema, 'JSON'))
      .then((r) => r.id)
      .catch((err: unknown) => {
        id = null;
        if (err instanceof RegistryRequestError && err.status === 404) {
          throw new Error(
            `the events' schema is not registered under subject ${o.subject} in ${client.url}: run \`tilecast schema push\` first (${err.message})`,
            { cause: err },
          );
        }
        throw err;
      });
    return id;
  };
}

/**
 * The few calls of the Confluent Schema Registry REST API Tilecast makes (SCHEMA_REGISTRY_URL
 * is the API's base, e.g. Apicurio's `http://host:8080/apis/ccompat/v7`). Two kinds of
 * failure, because callers treat them differently:
 *
 * - RegistryRequestError: the registry answered with a 4xx (e.g. 404 unknown id, 409
 *   incompatible schema). Definite: the worker dead-letters on "unknown id".
 * - RegistryUnavailableError: no answer, a timeout, a 5xx, or a body that is not what the API
 *   returns. Transient: the worker pauses and retries, never dead-letters on it.
 *
 * Rely on the HTTP status, not `error_code`: Apicurio answers a 409 with `error_code: 0`.
 */
export type SchemaType = 'JSON' | 'AVRO' | 'PROTOBUF';

export class RegistryUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RegistryUnavailableError';
  }
}

export class RegistryRequestError extends Error {
  constructor(
    readonly status: number,
    readonly errorCode: number | undefined,
    message: string,
  ) {
    super(message);
    this.name = 'RegistryRequestError';
  }
}

export interface RegisteredSchema {
  schema: string;
  schemaType: SchemaType;
}

export interface RegistryClientOptions {
  url: string;
  /** Per request. Default 5 s. */
  timeoutMs?: number;
}

const CONTENT_TYPE = 'application/vnd.schemaregistry.v1+json';

export function createRegistryClient(o: RegistryClientOptions) {
  const base = o.url.replace(/\/+$/, '');
  const timeoutMs = o.timeoutMs ?? 5_000;

  async function call<T>(method: 'GET' | 'POST' | 'PUT', path: string, body?: unknown): Promise<T> {
    let res: Response;
    try {
      res = await fetch(`${base}${path}`, {
        method,
        headers: { accept: CONTENT_TYPE, ...(body === undefined ? {} : { 'content-type': CONTENT_TYPE }) },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (err) {
      const cause = err instanceof Error ? ((err.cause as Error | undefined)?.message ?? err.message) : String(err);
      throw new RegistryUnavailableError(`schema registry ${base} did not answer ${method} ${path}: ${cause}`, { cause: err });
    }
    const text = await res.text().catch(() => '');
    let parsed: unknown;
    try {
      parsed = text === '' ? undefined : JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    if (res.status >= 400 && res.status < 500) {
      const b = (parsed ?? {}) as { message?: unknown; error_code?: unknown };
      const message = typeof b.message === 'string' ? b.message : text.slice(0, 500) || res.statusText;
      throw new RegistryRequestError(res.status, typeof b.error_code === 'number' ? b.error_code : undefined, message);
    }
    if (!res.ok || parsed === undefined) {
      throw new RegistryUnavailableError(`schema registry ${base} answered ${method} ${path} with ${res.status}: ${text.slice(0, 300)}`);
    }
    return parsed as T;
  }

  const enc = encodeURIComponent;
  const schemaBody = (schema: string, schemaType: SchemaType) => (schemaType === 'AVRO' ? { schema } : { schema, schemaType });

  return {
    url: base,

    /** The schema with this id (Confluent leaves `schemaType` out for Avro). */
    async schemaById(id: number): Promise<RegisteredSchema> {
      const r = await call<{ schema?: unknown; schemaType?: unknown }>('GET', `/schemas/ids/${id}`);
      if (typeof r.schema !== 'string') throw new RegistryUnavailableError(`schema registry answered /schemas/ids/${id} without a schema`);
      const t = typeof r.schemaType === 'string' ? r.schemaType.toUpperCase() : 'AVRO';
      return { schema: r.schema, schemaType: t as SchemaType };
    },

    /** Every subject and version this id is registered under (ids are shared by identical schemas). */
    async versionsOfId(id: number): Promise<{ subject: string; version: number }[]> {
      const r = await call<unknown>('GET', `/schemas/ids/${id}/versions`);
      if (!Array.isArray(r)) throw new RegistryUnavailableError(`schema registry answered /schemas/ids/${id}/versions with a non-list`);
      return r as { subject: string; version: number }[];
    },

    /** Registers a version (or finds the identical one); 409 RegistryRequestError when incompatible. */
    async register(subject: string, schema: string, schemaType: SchemaType): Promise<number> {
      const r = await call<{ id: number }>('POST', `/subjects/${enc(subject)}/versions`, schemaBody(schema, schemaType));
      return r.id;
    },

    /** The id and version of this exact schema under the subject; 404 RegistryRequestError when it is not registered there. */
    async lookup(subject: string, schema: string, schemaType: SchemaType): Promise<{ id: number; version: number }> {
      const r = await call<{ id: number; version: number }>('POST', `/subjects/${enc(subject)}`, schemaBody(schema, schemaType));
      return { id: r.id, version: r.version };
    },

    /** The subject's latest version; 404 RegistryRequestError when the subject has none. */
    async latest(subject: string): Promise<{ id: number; version: number; schema: string }> {
      return call('GET', `/subjects/${enc(subject)}/versions/latest`);
    },

    async setCompatibility(subject: string, level: 'BACKWARD' | 'BACKWARD_TRANSITIVE' | 'FORWARD' | 'FULL' | 'NONE'): Promise<void> {
      await call('PUT', `/config/${enc(subject)}`, { compatibility: level });
    },

    /** Would this schema be accepted as the subject's next version? With the registry's reason when not. */
    async checkCompatibility(subject: string, schema: string, schemaType: SchemaType): Promise<{ compatible: boolean; reason: string }> {
      const r = await call<{ is_compatible?: boolean; reason?: string | null; messages?: string[] }>(
        'POST',
        `/compatibility/subjects/${enc(subject)}/versions/latest?verbose=true`,
        schemaBody(schema, schemaType),
      );
      return { compatible: r.is_compatible === true, reason: r.reason ?? r.messages?.join('; ') ?? '' };
    },
  };
}

export type RegistryClient = ReturnType<typeof createRegistryClient>;

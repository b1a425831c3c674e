/**
 * A registered schema → the function that turns a framed record's body into a plain value
 * (still to be checked against the event contract), or says why it does not fit the
 * schema it names. JSON Schema bodies are parsed and validated with ajv; Avro bodies are
 * decoded with avsc using the writer's schema (the one the id names). Compiled once per
 * schema id (see resolver.ts), so the per-record cost is the validation itself.
 */
import { Ajv, type ValidateFunction } from 'ajv';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import avro from 'avsc';
import type { Issue } from '../pipeline/steps.ts';
import type { RegisteredSchema } from './client.ts';

export type BodyResult = { ok: true; value: unknown } | { ok: false; reason: 'invalid_json' | 'registered_schema_violation'; issues: Issue[] };
export type BodyCodec = (body: Buffer) => BodyResult;

/** ajv instances per draft, shared: compiling is per schema, the instances only hold formats and options. */
let ajvs: { draft7: Ajv; draft2020: Ajv2020 } | null = null;
function ajvFor(schema: Record<string, unknown>): Ajv | Ajv2020 {
  if (!ajvs) {
    // strict off: a producer's schema may carry keywords ajv does not know (titles, vendor extensions).
    const o = { strict: false, allErrors: false, validateFormats: true } as const;
    ajvs = { draft7: new Ajv(o), draft2020: new Ajv2020(o) };
    addFormats.default(ajvs.draft7);
    addFormats.default(ajvs.draft2020);
  }
  return typeof schema.$schema === 'string' && /2019-09|2020-12/.test(schema.$schema) ? ajvs.draft2020 : ajvs.draft7;
}

function jsonCodec(text: string): BodyCodec {
  const schema = JSON.parse(text) as Record<string, unknown>;
  // The registry may hand out one schema under several ids: compile, don't cache by $id.
  const { $id: _id, ...anonymous } = schema;
  const validate: ValidateFunction = ajvFor(schema).compile(anonymous);
  return (body) => {
    let value: unknown;
    try {
      value = JSON.parse(body.toString('utf8'));
    } catch (err) {
      return { ok: false, reason: 'invalid_json', issues: [{ path: '', message: (err as Error).message }] };
    }
    if (validate(value)) return { ok: true, value };
    const issues = (validate.errors ?? []).map((e) => ({ path: e.instancePath.replace(/^\//, '').replaceAll('/', '.'), message: `registered schema: ${e.message ?? e.keyword}` }));
    return { ok: false, reason: 'registered_schema_violation', issues };
  };
}

/**
 * Avro record → the contract's plain object: a null field is an absent one (Avro writes
 * every field; optional ones are `["null", T]` unions defaulting to null).
 */
function plain(record: unknown): unknown {
  if (record === null || typeof record !== 'object' || Array.isArray(record) || Buffer.isBuffer(record)) return record;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(record)) if (v !== null) out[k] = v;
  return out;
}

function avroCodec(text: string): BodyCodec {
  const type = avro.Type.forSchema(JSON.parse(text) as avro.Schema);
  return (body) => {
    try {
      const { value, offset } = type.decode(body, 0);
      if (offset !== body.length) {
        const why = offset < 0 ? 'the body ends before the record does' : `${body.length - offset} bytes follow the record`;
        return { ok: false, reason: 'registered_schema_violation', issues: [{ path: '', message: `does not decode with the registered Avro schema: ${why}` }] };
      }
      return { ok: true, value: plain(value) };
    } catch (err) {
      return { ok: false, reason: 'registered_schema_violation', issues: [{ path: '', message: `does not decode with the registered Avro schema: ${(err as Error).message}` }] };
    }
  };
}

/** Throws when the schema itself cannot be used (unparsable, or a type this worker does not read). */
export function compileCodec(s: RegisteredSchema): BodyCodec {
  if (s.schemaType === 'JSON') return jsonCodec(s.schema);
  if (s.schemaType === 'AVRO') return avroCodec(s.schema);
  throw new Error(`${s.schemaType} schemas are not supported (JSON Schema and Avro are)`);
}

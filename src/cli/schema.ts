/**
 * `tilecast schema push|check [--file F] [--type JSON|AVRO] [--subject S] [--dry-run]`: the events'
 * schema in the schema registry (SCHEMA_REGISTRY_URL, subject SCHEMA_SUBJECT).
 *
 * - push: sets the subject's compatibility to BACKWARD, then registers the schema (a new
 *   version only if it changed) and prints its id and version. Refused, with the registry's
 *   reason, when it is not compatible with the latest version.
 * - check: whether the schema would be accepted as the next version; exits 1 with the
 *   registry's reason when not (a CI gate for anyone changing events).
 * - push --dry-run: prints the schema push would register, without contacting the registry.
 *
 * The schema is the JSON Schema of the events of the model the process runs (TILECAST_MODEL,
 * src/model/json-schema.ts, what `tilecast schema events` prints), or a producer's own schema
 * file with --file (JSON Schema, or Avro with --type AVRO).
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { loadConfig } from '../config/index.ts';
import { RegistryRequestError, createRegistryClient, type SchemaType } from '../ingest/registry/client.ts';
import { requireModel } from '../model/compile.ts';
import { eventsJsonSchemaText } from '../model/json-schema.ts';
import { buildSchema, printedSchema } from '../schema/index.ts';
import { compileOrReport, modelPath } from './model.ts';

/**
 * `tilecast schema print [--model FILE]`: the GraphQL SDL of the model (default
 * TILECAST_MODEL; the default model's is what schema.graphql holds), for frontends' codegen.
 */
export async function printSdl(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv.slice(1), options: { model: { type: 'string' } } });
  const plan = await compileOrReport(modelPath(values.model), (line) => console.error(line));
  if (!plan) return 1;
  process.stdout.write(printedSchema(buildSchema(plan)));
  return 0;
}

const USAGE = 'usage: tilecast schema push|check [--file schema.json] [--type JSON|AVRO] [--subject S] [--dry-run] (or: tilecast schema print | events [--model FILE])';

export async function runRegistrySchema(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { file: { type: 'string' }, type: { type: 'string', default: 'JSON' }, subject: { type: 'string' }, 'dry-run': { type: 'boolean', default: false } },
  });
  const [action] = positionals;
  if (action !== 'push' && action !== 'check') throw new Error(USAGE);
  const schemaType = values.type.toUpperCase() as SchemaType;
  if (schemaType !== 'JSON' && schemaType !== 'AVRO') throw new Error('--type must be JSON or AVRO');
  if (!values.file && schemaType !== 'JSON') throw new Error('--type AVRO needs --file (the generated schema is JSON Schema)');
  const config = loadConfig(process.env);
  const schema = values.file ? readFileSync(values.file, 'utf8').trim() : eventsJsonSchemaText(await requireModel(config.model.path));
  try {
    JSON.parse(schema);
  } catch (err) {
    throw new Error(`${values.file}: not JSON (${(err as Error).message})`);
  }
  if (action === 'push' && values['dry-run']) {
    console.log(JSON.stringify(JSON.parse(schema), null, 2));
    return;
  }

  if (!config.schemaRegistry) throw new Error('SCHEMA_REGISTRY_URL is not set (the registry API base, e.g. http://127.0.0.1:18081/apis/ccompat/v7)');
  const subject = values.subject ?? config.schemaRegistry.subject;
  const registry = createRegistryClient({ url: config.schemaRegistry.url });
  const what = values.file ?? `the events' schema of ${config.model.path}`;

  if (action === 'check') {
    const latest = await registry.latest(subject).catch((err: unknown) => {
      if (err instanceof RegistryRequestError && err.status === 404) return null;
      throw err;
    });
    if (!latest) {
      console.log(`${subject} has no versions yet: \`tilecast schema push\` registers ${what} as its first`);
      return;
    }
    const r = await registry.checkCompatibility(subject, schema, schemaType);
    if (r.compatible) {
      console.log(`compatible: ${what} can follow version ${latest.version} of ${subject}`);
      return;
    }
    console.error(`incompatible with version ${latest.version} of ${subject}: ${r.reason || 'the registry gave no reason'}`);
    process.exitCode = 1;
    return;
  }

  // BACKWARD before registering, so this very version is checked against the previous one.
  await registry.setCompatibility(subject, 'BACKWARD');
  try {
    await registry.register(subject, schema, schemaType);
  } catch (err) {
    if (err instanceof RegistryRequestError && err.status === 409) {
      console.error(`refused by the registry (${subject} is BACKWARD compatible): ${err.message}`);
      process.exitCode = 1;
      return;
    }
    throw err;
  }
  const { id, version } = await registry.lookup(subject, schema, schemaType);
  console.log(`registered ${what} under ${subject}: id ${id}, version ${version} (compatibility BACKWARD)`);
}

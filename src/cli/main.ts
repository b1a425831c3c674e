/**
 * The `tilecast` command line. One line per command below: its arguments, what it does
 * (printed by `tilecast` without a command), and the function that runs it, each in its
 * own file of src/cli/. `npm start` runs `start`.
 */
import { ConfigError } from '../config/index.ts';
import { ModelFileError } from '../model/compile.ts';
import { runApi } from './api.ts';
import { runBackfillCli } from './backfill.ts';
import { runMigrate } from './migrate.ts';
import { runModel, runSchema } from './model.ts';
import { runReplay } from './replay.ts';
import { printSdl, runRegistrySchema } from './schema.ts';
import { runSimulate } from './simulate.ts';
import { runStart } from './start.ts';
import { runToken } from './token.ts';
import { runWorker } from './worker.ts';

interface Command {
  args: string;
  /** Lines of the usage text; later ones are indented under the first. */
  help: string[];
  run: (argv: string[]) => Promise<void>;
}

/** A command that resolves to its exit code. */
const exitWith = (run: (argv: string[]) => Promise<number>) => async (argv: string[]) => {
  process.exitCode = await run(argv);
};

const COMMANDS: Record<string, Command> = {
  start: { args: '[--demo]', help: ['embedded all-in-one: API + aggregator + ClickHouse (chdb)'], run: runStart },
  api: { args: '', help: ['GraphQL + HTTP API; POST /v1/events produces to Kafka', "(needs KAFKA_BROKERS, and REDIS_URL for the workers' updates)"], run: runApi },
  worker: { args: '', help: ['Kafka consumer-group member: validate, dedupe, aggregate, write', 'windows (needs KAFKA_BROKERS; CLICKHOUSE_URL to share storage)'], run: runWorker },
  simulate: { args: '--rate N --duration S --tenants T [--target http|kafka] [--url U]', help: ['load generator with a progress bar'], run: runSimulate },
  migrate: { args: '', help: ['apply migrations/ in order (idempotent) and the retention TTLs'], run: runMigrate },
  replay: { args: '--tenant T --from ISO --to ISO [--chunk-size N]', help: ["rebuild a tenant's windows in a range from the event log", '(idempotent; embedded: stop `tilecast start` first)'], run: runReplay },
  backfill: { args: '[--metric name@v ...]', help: ["write the model's metrics for minutes from before they were", 'computed live, from the event log (resumable; embedded: stop `tilecast start` first)'], run: runBackfillCli },
  token: { args: '--tenant T [--scope read|ingest|admin] [--ttl 1h]', help: ['mint a signed token with the configured secret'], run: runToken },
  model: { args: 'check [FILE]', help: ['validate a metric model (default TILECAST_MODEL): errors with line, path, reason'], run: exitWith(runModel) },
  schema: {
    args: 'print | events [--model FILE] | push|check [--file F] [--type JSON|AVRO] [--dry-run]',
    help: ['print: the GraphQL SDL, for frontends\' codegen', "events: JSON Schema (draft-07) of the model's events", "push|check: the events' schema in SCHEMA_REGISTRY_URL (docs/kafka-producers.md)"],
    run: (argv) => (argv[0] === 'print' ? exitWith(printSdl)(argv) : argv[0] === 'events' ? exitWith(runSchema)(argv) : runRegistrySchema(argv)),
  },
};

const HELP_COLUMN = 39;

function usage(): string {
  const lines = ['Usage: tilecast <command> [options]', '', 'Commands:'];
  for (const [name, c] of Object.entries(COMMANDS)) {
    const call = `  ${[name, c.args].filter(Boolean).join(' ')}`;
    const help = c.help.map((line) => `${' '.repeat(HELP_COLUMN)}${line}`);
    if (call.length < HELP_COLUMN) help[0] = call.padEnd(HELP_COLUMN) + c.help[0];
    else help.unshift(call);
    lines.push(...help);
  }
  return `${lines.join('\n')}\n`;
}

const [name, ...rest] = process.argv.slice(2);
const command = name && Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
if (!command) {
  console.error(usage());
  process.exit(name ? 2 : 0);
}
command.run(rest).catch((err: unknown) => {
  // A bad config or model: its own message, every problem listed (a model's as `tilecast model check` prints them).
  console.error(err instanceof ConfigError || err instanceof ModelFileError ? err.message : `tilecast ${name}: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});

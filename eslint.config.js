// ESLint flat config. Not type-aware on purpose (no parserOptions.project): `npm run lint`
// stays a few seconds; `tsc --noEmit` is the type check.
//
// The layering in shared/DESIGN.md ("imports only point down") is enforced here with
// `no-restricted-imports` per src/ folder: the cheap form STYLE.md #14 asks for. The
// patterns match relative specifiers ('../resolvers/x.ts', '../../schema/y.ts'), which is
// how src/ imports src/ (there are no path aliases). A rule option set for one folder
// replaces, not merges with, a broader one, so every folder's full option list is built
// by `restrictionsFor` below.
import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import tseslint from 'typescript-eslint';

/** Layers under src/ (every folder of src/ is one) and the other layers each one must not import (DESIGN.md). */
const ALL_LAYERS = [
  'contracts', 'config', 'auth', 'observability', 'model', 'storage', 'realtime',
  'resolvers', 'ingest', 'producer', 'schema', 'aggregate', 'app', 'cli',
];
const except = (...allowed) => ALL_LAYERS.filter((l) => !allowed.includes(l));
const FORBIDDEN_LAYERS = {
  contracts: except('contracts'),
  config: except('config', 'contracts'),
  auth: except('auth', 'contracts'),
  // Logger and metrics registry: a leaf like config, used by every layer above.
  observability: except('observability', 'contracts', 'config'),
  // The metric model: read by every layer above, built only on contracts and config.
  model: except('model', 'contracts', 'config'),
  storage: ['realtime', 'resolvers', 'schema', 'ingest', 'producer', 'aggregate', 'app', 'cli'],
  realtime: ['resolvers', 'schema', 'ingest', 'producer', 'aggregate', 'app', 'cli'],
  resolvers: ['schema', 'ingest', 'producer', 'aggregate', 'app', 'cli'],
  ingest: ['schema', 'resolvers', 'producer', 'aggregate', 'app', 'cli'],
  // The typed emitter other services embed: events over ingest's Kafka wrapper, nothing of the server.
  producer: ['storage', 'realtime', 'resolvers', 'schema', 'aggregate', 'app', 'cli'],
  schema: ['ingest', 'producer', 'aggregate', 'app', 'cli'],
  aggregate: ['schema', 'resolvers', 'producer', 'app', 'cli'],
  app: ['cli'],
  cli: [],
};

/**
 * Raw clients live behind one wrapper each (STYLE.md #5); `allowedIn` are path prefixes
 * relative to the repo root. Tests, benches and scripts may drive Kafka/Redis directly.
 */
const CLIENT_PACKAGES = [
  {
    regex: '^(@clickhouse/client(-[a-z]+)?|chdb|@chdb/[^/]+)(/.*)?$',
    allowedIn: ['src/storage/'],
    message: 'Only src/storage/clickhouse.ts talks to ClickHouse; use the storage wrappers.',
  },
  {
    regex: '^kafkajs(/.*)?$',
    allowedIn: ['src/ingest/kafka/', 'scripts/', 'test/', 'bench/'],
    message: 'kafkajs is used only behind the wrapper in src/ingest/kafka/.',
  },
  {
    regex: '^ioredis(/.*)?$',
    allowedIn: ['src/realtime/', 'test/', 'bench/'],
    message: 'ioredis is used only inside src/realtime/ (the update bus).',
  },
  {
    // Websocket plumbing (sockets, frames, connection limits) belongs to the transport (DESIGN.md).
    regex: '^(ws|graphql-ws)(/.*)?$',
    allowedIn: ['src/app/ws/', 'test/', 'bench/', 'scripts/'],
    message: 'Websockets are handled only in src/app/ws/; resolvers see a SubscriptionConnection (src/resolvers/connection.ts).',
  },
];

/** Folders (repo-relative prefixes) that may read process.env: the config module and the CLI entry. */
const ENV_READERS = ['src/config/', 'src/cli/'];

// Every place lint looks at, as path prefixes; '' is the repo root (*.ts, *.js there).
// Order matters: a later block's rule options replace an earlier one's for the files both
// match, so broader areas come first: 'src/' (anything under src/ outside a known layer),
// then each layer, then sub-folders with their own allowances (e.g. src/ingest/kafka/).
const SUB_AREAS = CLIENT_PACKAGES.flatMap((p) => p.allowedIn).filter((a) => /^src\/[^/]+\/./.test(a));
const AREAS = ['', 'src/', ...ALL_LAYERS.map((l) => `src/${l}/`), ...new Set(SUB_AREAS), 'test/', 'scripts/', 'bench/', 'bin/'];

const ENV_MESSAGE = 'Read configuration through src/config (loadConfig); process.env is read only there and in src/cli.';

/** The full option lists of the restriction rules for files under `area`. */
function restrictionsFor(area) {
  const layer = area.match(/^src\/([^/]+)\//)?.[1];
  const patterns = (FORBIDDEN_LAYERS[layer] ?? []).map((target) => ({
    // One or more '../' then the layer folder (optionally through 'src/'), e.g.
    // '../resolvers/context.ts' from src/storage/x.ts or '../../schema/a.ts' from src/ingest/kafka/y.ts.
    regex: `^(\\.\\./)+(src/)?${target}(/|$)`,
    message: `Layer boundary (DESIGN.md): src/${layer} must not import src/${target}. Shared types go in src/contracts.`,
  }));
  const syntax = [];
  for (const pkg of CLIENT_PACKAGES) {
    if (pkg.allowedIn.some((prefix) => area.startsWith(prefix))) continue;
    patterns.push({ regex: pkg.regex, message: pkg.message });
    syntax.push({
      selector: `ImportExpression > Literal.source[value=/${pkg.regex.replaceAll('/', '\\/')}/]`,
      message: pkg.message,
    });
  }
  const readsEnv = !area.startsWith('src/') || ENV_READERS.some((prefix) => area.startsWith(prefix));
  const paths = [];
  const properties = [];
  if (!readsEnv) {
    paths.push(
      { name: 'process', importNames: ['env'], message: ENV_MESSAGE },
      { name: 'node:process', importNames: ['env'], message: ENV_MESSAGE },
    );
    // Also catches `const { env } = process`.
    properties.push({ object: 'process', property: 'env', message: ENV_MESSAGE });
  }
  return {
    'no-restricted-imports': patterns.length || paths.length ? ['error', { paths, patterns }] : 'off',
    'no-restricted-properties': properties.length ? ['error', ...properties] : 'off',
    'no-restricted-syntax': syntax.length ? ['error', ...syntax] : 'off',
  };
}

/** Globs for the files directly in `area` and below it (root area: its own files only). */
function filesOf(area) {
  return area === '' ? ['*.ts', '*.js', '*.mjs', '*.cjs'] : [`${area}**/*.{ts,mts,cts,js,mjs,cjs}`];
}

// Node's globals for plain JS files (TS files get no-undef from the compiler instead).
// Listed by hand: the `globals` package is not a direct dependency.
const NODE_GLOBALS = Object.fromEntries(
  [
    'process', 'console', 'Buffer', 'URL', 'URLSearchParams', 'setTimeout', 'clearTimeout',
    'setInterval', 'clearInterval', 'setImmediate', 'clearImmediate', 'queueMicrotask',
    'structuredClone', 'fetch', 'AbortController', 'AbortSignal', 'TextEncoder', 'TextDecoder',
    'performance', 'global',
  ].map((name) => [name, 'readonly']),
);

export default defineConfig(
  {
    // Generated or local-only output; schema.graphql is checked by `npm run schema:check`.
    ignores: [
      '**/node_modules/**', '.tilecast/**', 'coverage/**', 'dist/**', 'tmp/**',
      '**/*.generated.*', '**/generated/**',
    ],
  },
  js.configs.recommended,
  tseslint.configs.recommended,
  {
    languageOptions: { ecmaVersion: 2023, sourceType: 'module' },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      // The TS version understands types; the core one would double-report in .js files.
      'no-unused-vars': 'off',
      '@typescript-eslint/no-unused-vars': [
        'error',
        {
          argsIgnorePattern: '^_',
          varsIgnorePattern: '^_',
          caughtErrorsIgnorePattern: '^_',
          destructuredArrayIgnorePattern: '^_',
          ignoreRestSiblings: true,
        },
      ],
      // `map.get(k)!` after a has() check reads better than a redundant guard.
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
  {
    files: ['**/*.{js,mjs,cjs}'],
    languageOptions: { globals: NODE_GLOBALS },
  },
  // Most specific last (see AREAS).
  ...AREAS.map((area) => ({ files: filesOf(area), rules: restrictionsFor(area) })),
);

// Proves the lint rules that enforce DESIGN.md's layering can fail: a rule that never fires
// would pass `npm run lint` forever. Snippets are linted as if they lived at `filePath`
// (the file need not exist), with the repo's own eslint.config.js.
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const eslint = new ESLint({ cwd: repoRoot });

async function lint(filePath: string, code: string): Promise<{ rule: string | null; line: number; message: string }[]> {
  const [result] = await eslint.lintText(code, { filePath });
  return result!.messages.map((m) => ({ rule: m.ruleId, line: m.line, message: m.message }));
}

describe('layer boundaries (eslint.config.js)', () => {
  it('rejects storage importing resolvers', async () => {
    const messages = await lint(
      'src/storage/x.ts',
      "import type { ApiServices } from '../resolvers/context.ts';\nexport type T = ApiServices;\n",
    );
    expect(messages).toEqual([
      expect.objectContaining({
        rule: 'no-restricted-imports',
        line: 1,
        message: expect.stringContaining('src/storage must not import src/resolvers'),
      }),
    ]);
  });

  it('allows storage importing contracts', async () => {
    const messages = await lint('src/storage/x.ts', "import { Event } from '../contracts/event.ts';\nexport const e = Event;\n");
    expect(messages).toEqual([]);
  });

  it.each([
    ['src/resolvers/x.ts', "import { a } from '../ingest/intake.ts';\nexport { a };\n", 'no-restricted-imports'],
    ['src/ingest/kafka/x.ts', "import { a } from '../../schema/index.ts';\nexport { a };\n", 'no-restricted-imports'],
    ['src/contracts/x.ts', "import { a } from '../config/index.ts';\nexport { a };\n", 'no-restricted-imports'],
    ['src/resolvers/x.ts', "import { createClient } from '@clickhouse/client';\nexport { createClient };\n", 'no-restricted-imports'],
    ['src/storage/x.ts', "export const load = () => import('kafkajs');\n", 'no-restricted-syntax'],
    ['src/app/x.ts', "import Redis from 'ioredis';\nexport { Redis };\n", 'no-restricted-imports'],
    ['src/resolvers/x.ts', "import type { WebSocket } from 'ws';\nexport type S = WebSocket;\n", 'no-restricted-imports'],
    ['src/app/x.ts', "import { useServer } from 'graphql-ws/use/ws';\nexport { useServer };\n", 'no-restricted-imports'],
    ['src/app/x.ts', 'export const port = process.env.PORT;\n', 'no-restricted-properties'],
    ['src/model/x.ts', "import { a } from '../ingest/validate.ts';\nexport { a };\n", 'no-restricted-imports'],
    ['src/model/x.ts', "import { a } from '../storage/clickhouse.ts';\nexport { a };\n", 'no-restricted-imports'],
    ['src/model/x.ts', "import { a } from '../observability/logger.ts';\nexport { a };\n", 'no-restricted-imports'],
    ['src/contracts/x.ts', "import type { A } from '../model/types.ts';\nexport type B = A;\n", 'no-restricted-imports'],
    ['src/config/x.ts', "import type { A } from '../model/types.ts';\nexport type B = A;\n", 'no-restricted-imports'],
    ['src/storage/x.ts', "import { a } from '../producer/index.ts';\nexport { a };\n", 'no-restricted-imports'],
    ['src/ingest/kafka/x.ts', "import { a } from '../../producer/index.ts';\nexport { a };\n", 'no-restricted-imports'],
    ['src/producer/x.ts', "import { a } from '../app/app.ts';\nexport { a };\n", 'no-restricted-imports'],
    ['src/producer/x.ts', "import { a } from '../storage/clickhouse.ts';\nexport { a };\n", 'no-restricted-imports'],
  ])('rejects %s: %s', async (filePath, code, rule) => {
    const messages = await lint(filePath, code);
    expect(messages.map((m) => m.rule)).toEqual([rule]);
  });

  it.each([
    ['src/ingest/kafka/x.ts', "import { Kafka } from 'kafkajs';\nimport { a } from '../validate.ts';\nexport { Kafka, a };\n"],
    ['src/realtime/x.ts', "import Redis from 'ioredis';\nexport { Redis };\n"],
    ['src/app/ws/x.ts', "import { WebSocketServer } from 'ws';\nimport { a } from '../../resolvers/connection.ts';\nexport { WebSocketServer, a };\n"],
    ['src/config/x.ts', 'export const port = process.env.PORT;\n'],
    ['src/model/x.ts', "import { a } from '../contracts/decimal.ts';\nimport { b } from '../config/index.ts';\nexport { a, b };\n"],
    ['src/storage/x.ts', "import type { A } from '../model/types.ts';\nexport type B = A;\n"],
    ['src/schema/x.ts', "import type { A } from '../model/types.ts';\nexport type B = A;\n"],
    ['src/producer/x.ts', "import { a } from '../ingest/kafka/producer.ts';\nimport { b } from '../model/types.ts';\nexport { a, b };\n"],
    ['src/cli/x.ts', "import { a } from '../producer/index.ts';\nexport { a };\n"],
    ['test/unit/x.test.ts', "import { Kafka } from 'kafkajs';\nexport const brokers = [process.env.B, Kafka];\n"],
  ])('allows %s: %s', async (filePath, code) => {
    expect(await lint(filePath, code)).toEqual([]);
  });

  // A folder missing from the layer list in eslint.config.js gets no boundary rule at all.
  it.each(readdirSync(new URL('../../src', import.meta.url), { withFileTypes: true }).filter((d) => d.isDirectory() && d.name !== 'cli').map((d) => d.name))(
    'src/%s is a layer: it may not import the CLI',
    async (folder) => {
      const messages = await lint(`src/${folder}/x.ts`, "import { a } from '../cli/main.ts';\nexport { a };\n");
      expect(messages).toEqual([expect.objectContaining({ rule: 'no-restricted-imports', message: expect.stringContaining(`src/${folder} must not import src/cli`) })]);
    },
  );
});

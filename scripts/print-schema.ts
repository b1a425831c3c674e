/** Writes schema.graphql (the default model's SDL) from the Pothos schema; with --check, fails if the committed file is out of date. */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { requireModel } from '../src/model/compile.ts';
import { buildSchema, printedSchema } from '../src/schema/index.ts';

const file = fileURLToPath(new URL('../schema.graphql', import.meta.url));
const sdl = printedSchema(buildSchema(await requireModel(fileURLToPath(new URL('../models/default.yaml', import.meta.url)))));
if (process.argv.includes('--check')) {
  let committed = '';
  try {
    committed = readFileSync(file, 'utf8');
  } catch {
    /* missing counts as out of date */
  }
  if (committed !== sdl) {
    console.error('schema.graphql is out of date: run `npm run schema:print` and commit it.');
    process.exit(1);
  }
  console.log('schema.graphql is up to date');
} else {
  writeFileSync(file, sdl);
  console.log(`wrote ${file}`);
}

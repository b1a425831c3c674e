/**
 * GraphQL Code Generator: typed documents (TypedDocumentNode) for the operations the API
 * tests send and for the example client, from the committed schema.graphql.
 * `npm run codegen` writes them; `npm run codegen:check` (part of `npm test`) fails when
 * they are out of date with schema.graphql or the .graphql documents.
 */
import type { CodegenConfig } from '@graphql-codegen/cli';

const clientPreset = {
  preset: 'client',
  // Plain types, no masking: tests and scripts read nested fields directly.
  presetConfig: { fragmentMasking: false, gqlTagName: 'graphql' },
  config: {
    useTypeImports: true,
    enumsAsTypes: true,
    // The schema's scalars are strings on the wire (ISO-8601 instants, exact decimals).
    scalars: { DateTime: 'string', Decimal: 'string' },
  },
} as const;

const config: CodegenConfig = {
  schema: 'schema.graphql',
  // Relative imports with a .js extension: generated files are ESM under NodeNext.
  emitLegacyCommonJSImports: false,
  ignoreNoDocuments: false,
  generates: {
    'test/generated/': { documents: ['test/operations/*.graphql'], ...clientPreset },
    'examples/client/generated/': { documents: ['examples/client/*.graphql'], ...clientPreset },
    // The example dashboard (web/) types its variables and response fields with these.
    'web/src/api/generated/': { documents: ['examples/graphiql/*.graphql'], ...clientPreset },
  },
};

export default config;

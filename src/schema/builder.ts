/**
 * The Pothos builder. A schema is built per metric model (src/schema/index.ts): each
 * schema file adds its types to the builder it is given; resolvers live in src/resolvers.
 */
import SchemaBuilder from '@pothos/core';
import type { GraphQLContext } from '../resolvers/context.ts';

export function createBuilder() {
  const builder = new SchemaBuilder<{
    Context: GraphQLContext;
    DefaultFieldNullability: false;
    Scalars: {
      /** Exact decimal as a string. */
      Decimal: { Input: string; Output: string };
      /** Epoch milliseconds inside, ISO-8601 UTC outside. */
      DateTime: { Input: number; Output: number };
    };
  }>({ defaultFieldNullability: false });
  builder.queryType({ description: 'Reads of one tenant (the token’s).' });
  builder.subscriptionType({ description: 'Live window updates of one tenant (the token’s).' });
  return builder;
}

export type Builder = ReturnType<typeof createBuilder>;
/** The builder's type parameters, for field-builder helpers. */
export type Types = Builder extends PothosSchemaTypes.SchemaBuilder<infer T> ? T : never;

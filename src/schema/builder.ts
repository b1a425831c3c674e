/** The one Pothos builder. Schema files declare types; resolvers live in src/resolvers. */
import SchemaBuilder from '@pothos/core';
import type { GraphQLContext } from '../resolvers/context.ts';

export const builder = new SchemaBuilder<{
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

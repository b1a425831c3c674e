import { lexicographicSortSchema, printSchema, type GraphQLSchema } from 'graphql';
import { builder } from './builder.ts';
import './scalars.ts';
import './enums.ts';
import './freshness.ts';
import './series.ts';
import './breakdown.ts';
import './catalog.ts';
import './dead-letters.ts';
import './window-update.ts';

export const schema: GraphQLSchema = builder.toSchema();

/** The SDL committed as schema.graphql. */
export const printedSchema = (): string => `${printSchema(lexicographicSortSchema(schema))}\n`;

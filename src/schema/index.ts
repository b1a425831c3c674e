/**
 * The GraphQL schema of a metric model: today's types, then the ones generated from the
 * model (src/schema/model.ts). schema.graphql is the default model's SDL.
 */
import { lexicographicSortSchema, printSchema, type GraphQLSchema } from 'graphql';
import type { ModelPlan } from '../model/types.ts';
import { addBreakdown } from './breakdown.ts';
import { createBuilder } from './builder.ts';
import { addCatalog } from './catalog.ts';
import { addDeadLetters } from './dead-letters.ts';
import { addEnums } from './enums.ts';
import { addFreshness } from './freshness.ts';
import { addModel } from './model.ts';
import { addDimensions } from './model-input.ts';
import { addScalars } from './scalars.ts';
import { addSeries } from './series.ts';
import { addWindowUpdates } from './window-update.ts';

export function buildSchema(plan: ModelPlan): GraphQLSchema {
  const builder = createBuilder();
  addScalars(builder);
  const enums = addEnums(builder, plan);
  const freshness = addFreshness(builder);
  const dimensions = addDimensions(builder, plan);
  const series = addSeries(builder, plan, enums, freshness, dimensions);
  addBreakdown(builder, plan, enums, freshness, dimensions, series);
  addCatalog(builder);
  addDeadLetters(builder);
  addWindowUpdates(builder, enums, freshness, dimensions.DimensionFilter);
  addModel(builder, plan, enums, freshness, dimensions);
  return builder.toSchema();
}

/** The SDL of a schema, as committed in schema.graphql. */
export const printedSchema = (schema: GraphQLSchema): string => `${printSchema(lexicographicSortSchema(schema))}\n`;

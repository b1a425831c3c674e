/* eslint-disable */
import * as types from './graphql.js';
import type { TypedDocumentNode as DocumentNode } from '@graphql-typed-document-node/core';

/**
 * Map of all GraphQL operations in the project.
 *
 * This map has several performance disadvantages:
 * 1. It is not tree-shakeable, so it will include all operations in the project.
 * 2. It is not minifiable, so the string of a GraphQL query will be multiple times inside the bundle.
 * 3. It does not support dead code elimination, so it will add unused operations.
 *
 * Therefore it is highly recommended to use the babel or swc plugin for production.
 * Learn more about it here: https://the-guild.dev/graphql/codegen/plugins/presets/preset-client#reducing-bundle-size
 */
type Documents = {
    "query ExampleDashboard($currency: String!, $from: DateTime!, $to: DateTime!, $timeZone: String!) {\n  revenue: series(\n    input: {metric: REVENUE, currency: $currency, from: $from, to: $to, granularity: DAY, timeZone: $timeZone, compareTo: PREVIOUS_PERIOD}\n  ) {\n    ...Tile\n  }\n  purchases: series(\n    input: {metric: PURCHASES, from: $from, to: $to, granularity: DAY, timeZone: $timeZone, compareTo: PREVIOUS_PERIOD}\n  ) {\n    ...Tile\n  }\n  activeUsers: series(\n    input: {metric: ACTIVE_USERS, from: $from, to: $to, granularity: DAY, timeZone: $timeZone, compareTo: PREVIOUS_PERIOD}\n  ) {\n    ...Tile\n  }\n  arpu: derivedSeries(\n    input: {metric: ARPU, currency: $currency, from: $from, to: $to, granularity: DAY, timeZone: $timeZone}\n  ) {\n    total\n  }\n  revenueByCurrency: breakdown(\n    input: {metric: REVENUE, from: $from, to: $to, granularity: DAY, timeZone: $timeZone}\n  ) {\n    slices {\n      currency\n      total\n    }\n  }\n  freshness {\n    dataAsOf\n    ageMs\n    isStale\n  }\n}\n\nfragment Tile on Series {\n  total\n  points {\n    start\n    value\n    final\n  }\n  comparison {\n    total\n    change\n    changeRatio\n  }\n}": typeof types.ExampleDashboardDocument,
};
const documents: Documents = {
    "query ExampleDashboard($currency: String!, $from: DateTime!, $to: DateTime!, $timeZone: String!) {\n  revenue: series(\n    input: {metric: REVENUE, currency: $currency, from: $from, to: $to, granularity: DAY, timeZone: $timeZone, compareTo: PREVIOUS_PERIOD}\n  ) {\n    ...Tile\n  }\n  purchases: series(\n    input: {metric: PURCHASES, from: $from, to: $to, granularity: DAY, timeZone: $timeZone, compareTo: PREVIOUS_PERIOD}\n  ) {\n    ...Tile\n  }\n  activeUsers: series(\n    input: {metric: ACTIVE_USERS, from: $from, to: $to, granularity: DAY, timeZone: $timeZone, compareTo: PREVIOUS_PERIOD}\n  ) {\n    ...Tile\n  }\n  arpu: derivedSeries(\n    input: {metric: ARPU, currency: $currency, from: $from, to: $to, granularity: DAY, timeZone: $timeZone}\n  ) {\n    total\n  }\n  revenueByCurrency: breakdown(\n    input: {metric: REVENUE, from: $from, to: $to, granularity: DAY, timeZone: $timeZone}\n  ) {\n    slices {\n      currency\n      total\n    }\n  }\n  freshness {\n    dataAsOf\n    ageMs\n    isStale\n  }\n}\n\nfragment Tile on Series {\n  total\n  points {\n    start\n    value\n    final\n  }\n  comparison {\n    total\n    change\n    changeRatio\n  }\n}": types.ExampleDashboardDocument,
};

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 *
 *
 * @example
 * ```ts
 * const query = graphql(`query GetUser($id: ID!) { user(id: $id) { name } }`);
 * ```
 *
 * The query argument is unknown!
 * Please regenerate the types.
 */
export function graphql(source: string): unknown;

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query ExampleDashboard($currency: String!, $from: DateTime!, $to: DateTime!, $timeZone: String!) {\n  revenue: series(\n    input: {metric: REVENUE, currency: $currency, from: $from, to: $to, granularity: DAY, timeZone: $timeZone, compareTo: PREVIOUS_PERIOD}\n  ) {\n    ...Tile\n  }\n  purchases: series(\n    input: {metric: PURCHASES, from: $from, to: $to, granularity: DAY, timeZone: $timeZone, compareTo: PREVIOUS_PERIOD}\n  ) {\n    ...Tile\n  }\n  activeUsers: series(\n    input: {metric: ACTIVE_USERS, from: $from, to: $to, granularity: DAY, timeZone: $timeZone, compareTo: PREVIOUS_PERIOD}\n  ) {\n    ...Tile\n  }\n  arpu: derivedSeries(\n    input: {metric: ARPU, currency: $currency, from: $from, to: $to, granularity: DAY, timeZone: $timeZone}\n  ) {\n    total\n  }\n  revenueByCurrency: breakdown(\n    input: {metric: REVENUE, from: $from, to: $to, granularity: DAY, timeZone: $timeZone}\n  ) {\n    slices {\n      currency\n      total\n    }\n  }\n  freshness {\n    dataAsOf\n    ageMs\n    isStale\n  }\n}\n\nfragment Tile on Series {\n  total\n  points {\n    start\n    value\n    final\n  }\n  comparison {\n    total\n    change\n    changeRatio\n  }\n}"): (typeof documents)["query ExampleDashboard($currency: String!, $from: DateTime!, $to: DateTime!, $timeZone: String!) {\n  revenue: series(\n    input: {metric: REVENUE, currency: $currency, from: $from, to: $to, granularity: DAY, timeZone: $timeZone, compareTo: PREVIOUS_PERIOD}\n  ) {\n    ...Tile\n  }\n  purchases: series(\n    input: {metric: PURCHASES, from: $from, to: $to, granularity: DAY, timeZone: $timeZone, compareTo: PREVIOUS_PERIOD}\n  ) {\n    ...Tile\n  }\n  activeUsers: series(\n    input: {metric: ACTIVE_USERS, from: $from, to: $to, granularity: DAY, timeZone: $timeZone, compareTo: PREVIOUS_PERIOD}\n  ) {\n    ...Tile\n  }\n  arpu: derivedSeries(\n    input: {metric: ARPU, currency: $currency, from: $from, to: $to, granularity: DAY, timeZone: $timeZone}\n  ) {\n    total\n  }\n  revenueByCurrency: breakdown(\n    input: {metric: REVENUE, from: $from, to: $to, granularity: DAY, timeZone: $timeZone}\n  ) {\n    slices {\n      currency\n      total\n    }\n  }\n  freshness {\n    dataAsOf\n    ageMs\n    isStale\n  }\n}\n\nfragment Tile on Series {\n  total\n  points {\n    start\n    value\n    final\n  }\n  comparison {\n    total\n    change\n    changeRatio\n  }\n}"];

export function graphql(source: string) {
  return (documents as any)[source] ?? {};
}

export type DocumentType<TDocumentNode extends DocumentNode<any, any>> = TDocumentNode extends DocumentNode<  infer TType,  any>  ? TType  : never;
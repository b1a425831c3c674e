import { parse, type FragmentDefinitionNode, type OperationDefinitionNode } from 'graphql';
import { describe, expect, it } from 'vitest';
import { asksForTraceIds } from '../../src/resolvers/selection.ts';

const infoOf = (source: string) => {
  const doc = parse(source);
  const operation = doc.definitions.find((d): d is OperationDefinitionNode => d.kind === 'OperationDefinition')!;
  const fragments = Object.fromEntries(doc.definitions.filter((d): d is FragmentDefinitionNode => d.kind === 'FragmentDefinition').map((f) => [f.name.value, f]));
  return { operation, fragments };
};

describe('asksForTraceIds', () => {
  it.each([
    ['a dashboard without trace ids', '{ s: series(input: $i) { total points { start value } comparison { points { value } } } }', false],
    ['trace ids of points', '{ s: series(input: $i) { points { start traceIds } } }', true],
    ['trace ids of comparison points only', '{ s: series(input: $i) { points { value } comparison { points { traceIds } } } }', true],
    ['trace ids inside a fragment', 'query { s: series(input: $i) { ...P } } fragment P on Series { points { traceIds } }', true],
    ['trace ids inside an inline fragment', '{ b: breakdown(input: $i) { slices { ... on Series { points { traceIds } } } } }', true],
    ['an aliased traceIds field still counts', '{ s: series(input: $i) { points { t: traceIds } } }', true],
  ])('%s', (_name, source, expected) => {
    expect(asksForTraceIds(infoOf(source))).toBe(expected);
  });
});

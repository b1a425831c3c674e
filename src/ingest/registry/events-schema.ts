/**
 * The JSON Schema producers register for Tilecast events: the one source of the schema
 * `tilecast schema push` registers and `schema check` compares, and of the id Tilecast's
 * own producers frame their records with. Draft-07, not zod's default 2020-12: the
 * registry (Apicurio 2.4) registers a 2020-12 schema once and then answers 500 to every
 * compatibility check or new version of it.
 */
import { z } from 'zod';
import { eventV1Schema } from '../../contracts/event.ts';

export function eventsJsonSchema(): Record<string, unknown> {
  return {
    ...z.toJSONSchema(eventV1Schema, { io: 'input', target: 'draft-7', unrepresentable: 'any' }),
    title: 'Tilecast event',
  };
}

/** The schema's text as registered (stable key order, so re-pushing an unchanged contract finds the same id). */
export const eventsJsonSchemaText = (): string => JSON.stringify(eventsJsonSchema());

import { GraphQLError, Kind } from 'graphql';
import { DECIMAL_PATTERN } from '../contracts/decimal.ts';
import type { Builder } from './builder.ts';

/** The DateTime and Decimal scalars. */
export function addScalars(builder: Builder) {
  const ISO_WITH_ZONE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;

  function parseDateTime(value: unknown): number {
    if (typeof value !== 'string' || !ISO_WITH_ZONE.test(value)) {
      throw new GraphQLError('DateTime must be an ISO-8601 string with a zone, e.g. "2026-11-01T00:00:00Z"', { extensions: { code: 'BAD_USER_INPUT' } });
    }
    const ms = Date.parse(value);
    if (Number.isNaN(ms)) throw new GraphQLError(`Invalid DateTime "${value}"`, { extensions: { code: 'BAD_USER_INPUT' } });
    return ms;
  }

  /**
   * Instant → ISO string, remembered: a dashboard serialises the same few hundred bucket
   * starts thousands of times (one per point of every series). Bounded; a pure function.
   */
  const isoOf = new Map<number, string>();
  function toIso(ms: number): string {
    let iso = isoOf.get(ms);
    if (iso === undefined) {
      if (isoOf.size >= 50_000) isoOf.clear();
      isoOf.set(ms, (iso = new Date(ms).toISOString()));
    }
    return iso;
  }

  builder.scalarType('DateTime', {
    description: 'An instant, ISO-8601 in UTC (inputs may carry any offset).',
    serialize: toIso,
    parseValue: parseDateTime,
    parseLiteral: (ast) => parseDateTime(ast.kind === Kind.STRING ? ast.value : undefined),
  });

  builder.scalarType('Decimal', {
    description: 'An exact decimal number as a string (money is never a float).',
    serialize: (v) => v,
    parseValue: (v) => {
      if (typeof v !== 'string' || !DECIMAL_PATTERN.test(v)) throw new GraphQLError('Decimal must be a string like "12.34"');
      return v;
    },
  });
}

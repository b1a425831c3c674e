/**
 * Row shapes shared by every reader of the `windows` tables. 64-bit integers arrive as
 * numbers from chdb and as strings from a server, hence `z.coerce`; revenue is always
 * selected with toString() so it never passes through a float.
 */
import { z } from 'zod';

/** The metric columns of a window (or of a merged bucket). */
export const windowValueColumns = z.object({
  revenue: z.string(),
  purchases: z.coerce.number(),
  signups: z.coerce.number(),
  upgrades: z.coerce.number(),
  churns: z.coerce.number(),
  active_users: z.coerce.number(),
});

/** One stored one-minute window of a tenant: key, revision and values. */
export const storedWindowColumns = windowValueColumns.extend({
  currency: z.string(),
  window_start_ms: z.coerce.number(),
  revision: z.coerce.number(),
  final: z.coerce.number(),
});

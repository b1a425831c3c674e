/** The metrics a window carries, shared by GraphQL, the bus and storage readers. */
export const METRICS = ['REVENUE', 'PURCHASES', 'SIGNUPS', 'UPGRADES', 'CHURNS', 'ACTIVE_USERS'] as const;
export type Metric = (typeof METRICS)[number];

/** WEEK = ISO week (starts Monday); DAY, WEEK and MONTH are local to the caller's time zone. */
export const GRANULARITIES = ['MINUTE', 'HOUR', 'DAY', 'WEEK', 'MONTH'] as const;
export type Granularity = (typeof GRANULARITIES)[number];

/** The base window length: every stored window is one event-time minute. */
export const WINDOW_MS = 60_000;

/** The metrics a window carries, shared by GraphQL, the bus and storage readers. */
export const METRICS = ['REVENUE', 'PURCHASES', 'SIGNUPS', 'UPGRADES', 'CHURNS', 'ACTIVE_USERS'] as const;
export type Metric = (typeof METRICS)[number];

export const GRANULARITIES = ['MINUTE', 'HOUR', 'DAY'] as const;
export type Granularity = (typeof GRANULARITIES)[number];

/** The base window length: every stored window is one event-time minute. */
export const WINDOW_MS = 60_000;

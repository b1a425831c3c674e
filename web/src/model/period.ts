/**
 * The dashboard's periods (this hour / today / last 7 days) as calendar ranges in the
 * viewer's chosen IANA time zone, DST-correct, plus the previous period to compare
 * with and the variables of the Dashboard query. Pure: `now` comes in.
 *
 * Calendar ranges (not "the last 24 h") on purpose: a range whose start does not move
 * only ever gains windows, so live updates can be applied to it exactly.
 */
export type Granularity = 'MINUTE' | 'HOUR' | 'DAY';
export type PeriodKind = 'hour' | 'today' | 'week';

export const PERIODS: readonly { kind: PeriodKind; label: string; previousLabel: string; granularity: Granularity }[] = [
  { kind: 'hour', label: 'This hour', previousLabel: 'previous hour', granularity: 'MINUTE' },
  { kind: 'today', label: 'Today', previousLabel: 'yesterday', granularity: 'HOUR' },
  { kind: 'week', label: 'Last 7 days', previousLabel: 'previous 7 days', granularity: 'DAY' },
];

export interface Period {
  kind: PeriodKind;
  granularity: Granularity;
  timeZone: string;
  from: number;
  to: number;
  /** Start of the comparison period: the API's PREVIOUS_PERIOD rule (src/resolvers/periods.ts). */
  prevFrom: number;
  prevTo: number;
  /** prevFrom + the time elapsed in the current period, rounded up to a whole minute. */
  prevToDateTo: number;
  /** Minute windows in [tailFrom, tailTo) are read as baselines for live updates. */
  tailFrom: number;
  tailTo: number;
  /** When the period was computed: windows starting at or after tailTo were empty then. */
  at: number;
}

export const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
/** Minute windows before `now` whose baselines are read (late events land in the last few). */
export const TAIL_BACK_MS = 10 * MINUTE;
const TAIL_AHEAD_MS = 5 * MINUTE;

const formatters = new Map<string, Intl.DateTimeFormat>();
function parts(t: number, timeZone: string) {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', { timeZone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric' });
    formatters.set(timeZone, f);
  }
  const p: Record<string, number> = {};
  for (const x of f.formatToParts(t)) if (x.type !== 'literal') p[x.type] = Number(x.value);
  return { y: p.year!, mo: p.month!, d: p.day!, h: p.hour!, mi: p.minute!, s: p.second! };
}

/** UTC offset of `timeZone` at instant `t`, in ms. */
export function offsetAt(t: number, timeZone: string): number {
  const l = parts(t, timeZone);
  return Date.UTC(l.y, l.mo - 1, l.d, l.h, l.mi, l.s) - Math.floor(t / 1000) * 1000;
}

export function isTimeZone(timeZone: string): boolean {
  try {
    parts(0, timeZone);
    return true;
  } catch {
    return false;
  }
}

/** Start of the local hour containing `t` (the same rule as ClickHouse's toStartOfHour(t, tz)). */
export function hourStart(t: number, timeZone: string): number {
  const local = t + offsetAt(t, timeZone);
  return t - (((local % HOUR) + HOUR) % HOUR);
}

/** Local midnight of the day containing `t`; on DST days the offset at midnight can differ from the one at `t`. */
export function dayStart(t: number, timeZone: string): number {
  const l = parts(t, timeZone);
  const midnightAsUtc = Date.UTC(l.y, l.mo - 1, l.d);
  let guess = midnightAsUtc - offsetAt(t, timeZone);
  guess = midnightAsUtc - offsetAt(guess, timeZone);
  return guess <= t ? guess : midnightAsUtc - offsetAt(t, timeZone);
}

/** Midnight of the next local day: 25 h later is always inside it (days are 23–25 h). */
const nextDayStart = (start: number, tz: string) => dayStart(start + 25 * HOUR, tz);
/** Midnight of the previous local day. */
const prevDayStart = (start: number, tz: string) => dayStart(start - HOUR, tz);

export function periodAt(kind: PeriodKind, now: number, timeZone: string): Period {
  const granularity = PERIODS.find((p) => p.kind === kind)!.granularity;
  let from: number, to: number, prevFrom: number;
  // The comparison period follows the API's PREVIOUS_PERIOD: the same length right before
  // `from` at MINUTE/HOUR granularity (so a 25-hour day is compared with 25 hours), the same
  // number of local days at DAY granularity.
  if (kind === 'hour') {
    from = hourStart(now, timeZone);
    to = from + HOUR;
    prevFrom = from - HOUR;
  } else if (kind === 'today') {
    from = dayStart(now, timeZone);
    to = nextDayStart(from, timeZone);
    prevFrom = from - (to - from);
  } else {
    to = nextDayStart(dayStart(now, timeZone), timeZone);
    from = to;
    for (let i = 0; i < 7; i++) from = prevDayStart(from, timeZone);
    prevFrom = from;
    for (let i = 0; i < 7; i++) prevFrom = prevDayStart(prevFrom, timeZone);
  }
  const prevTo = from;
  const elapsed = Math.max(MINUTE, Math.ceil((now - from + 1) / MINUTE) * MINUTE);
  const minute = Math.floor(now / MINUTE) * MINUTE;
  return {
    kind,
    granularity,
    timeZone,
    from,
    to,
    prevFrom,
    prevTo,
    prevToDateTo: Math.min(prevTo, prevFrom + elapsed),
    tailFrom: Math.max(from, minute - TAIL_BACK_MS),
    tailTo: Math.min(to, minute + TAIL_AHEAD_MS),
    at: now,
  };
}

/** Variables of the Dashboard query (examples/graphiql/dashboard.graphql). */
export function dashboardVariables(p: Period, currency: string) {
  const iso = (t: number) => new Date(t).toISOString();
  return {
    currency,
    timeZone: p.timeZone,
    granularity: p.granularity,
    from: iso(p.from),
    to: iso(p.to),
    prevFrom: iso(p.prevFrom),
    prevToDateTo: iso(p.prevToDateTo),
    tailFrom: iso(p.tailFrom),
    tailTo: iso(p.tailTo),
  };
}

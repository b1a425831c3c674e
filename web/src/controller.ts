/**
 * Keeps the dashboard current: ONE Dashboard query for the first paint, ONE
 * LiveUpdates subscription after that.
 *
 * Without gaps: updates that arrive while a Dashboard query is in flight are kept and
 * replayed onto its result (applying an update is idempotent, see model/dashboard.ts).
 * After a websocket reconnect the subscription resumes with `since` = the last
 * `dataAsOf` received (minus a margin: replays are idempotent, gaps are not), so the
 * server replays every window that changed while the socket was down.
 *
 * Other reads, all after the first paint: ACTIVE_USERS after its updates (distinct users
 * don't add up; at most ~1/s), BucketWindows when an update hits a window with no known
 * baseline (a late correction to an older bucket), the Dashboard query once a minute (keeps
 * "vs the previous period so far" moving and rolls over to the next period), and Freshness
 * while the stream is quiet (an idle tenant stays "live").
 */
import { AuthRejected, type ApiClient, type ConnectionState } from './api/client.ts';
import { activeUsersQuery, bucketWindowsQuery, dashboardQuery, freshnessQuery, liveUpdatesSubscription } from './api/operations.ts';
import { METRICS, createDashboardState, type DashboardState, type FreshnessData, type Metric, type WindowUpdateData } from './model/dashboard.ts';
import { badge, newer, readFreshness, type FreshnessReading } from './model/freshness.ts';
import { periodAt, type PeriodKind } from './model/period.ts';
import type { Renderer } from './view/render.ts';

export interface Settings {
  period: PeriodKind;
  currency: string;
  timeZone: string;
  metric: Metric;
}

const RELOAD_EVERY_MS = 60_000;
const DISTINCT_MIN_INTERVAL_MS = 1_000;
const RETRY_MS = 2_000;
/** Resume a little before the last dataAsOf seen: a replayed window is harmless, a missed one is not. */
const RESUME_MARGIN_MS = 5_000;

export function createController(deps: { api: ApiClient; render: Renderer; now?: () => number; onAuthRejected(message: string): void }) {
  const { api, render } = deps;
  const now = deps.now ?? Date.now;
  let settings: Settings | null = null;
  let dash: DashboardState | null = null;
  let loadSeq = 0;
  /** Updates received since the newest Dashboard query was sent: replayed onto its result. */
  let sinceLoad: WindowUpdateData[] | null = null;
  let freshness: FreshnessReading | null = null;
  /** dataAsOf of the last live message or Dashboard read: where a resumed subscription starts. */
  let resumePoint: number | null = null;
  let lastFreshnessAt = now();
  let connection: ConnectionState = 'connecting';
  let unsubscribe: (() => void) | null = null;
  /** Generation of the current subscription: the end of one we replaced is not an error. */
  let subscription = 0;
  let timers: ReturnType<typeof setTimeout>[] = [];
  /** Buckets being re-read (BucketWindows), by start: every update inside one is kept and replayed onto the read. */
  const buckets = new Map<number, { end: number; replay: WindowUpdateData[]; owner: DashboardState }>();
  let bucketQueue: number[] = [];
  let bucketInFlight = false;
  let distinct = { timer: null as ReturnType<typeof setTimeout> | null, inFlight: false, dirty: false, lastAt: 0 };
  let freshnessInFlight = false;
  let renderQueued = false;
  let stopped = false;

  function fail(err: unknown, retry: () => void): void {
    if (stopped) return;
    if (err instanceof AuthRejected) return deps.onAuthRejected(err.message);
    render.error(err instanceof Error ? err.message : String(err));
    timers.push(setTimeout(retry, RETRY_MS));
  }

  function observeFreshness(f: FreshnessData): void {
    lastFreshnessAt = now();
    freshness = newer(freshness, readFreshness(f, lastFreshnessAt));
  }

  function renderAll(): void {
    if (renderQueued) return;
    renderQueued = true;
    requestAnimationFrame(() => {
      renderQueued = false;
      if (!dash || !settings) return;
      render.tiles(METRICS.map((m) => dash!.tile(m)), settings, dash.period);
      render.chart(dash.chart(settings.metric, now()), settings, dash.period);
      renderBadge();
    });
  }

  function renderBadge(): void {
    render.badge(badge(freshness, now(), connection));
  }

  function load(): void {
    if (!settings || stopped) return;
    const seq = ++loadSeq;
    const s = settings;
    const period = periodAt(s.period, now(), s.timeZone);
    const replay: WindowUpdateData[] = [];
    sinceLoad = replay;
    api.request(dashboardQuery(period, s.currency)).then(
      (data) => {
        if (seq !== loadSeq || stopped) return;
        sinceLoad = null;
        dash = createDashboardState(data, period, s.currency);
        buckets.clear();
        bucketQueue = [];
        observeFreshness(data.freshness);
        if (data.catalog) render.describe(data.catalog);
        resumePoint = Math.max(resumePoint ?? 0, data.freshness.dataAsOf);
        render.error(null);
        for (const u of replay) applyUpdate(u);
        renderAll();
      },
      (err: unknown) => {
        if (seq === loadSeq) fail(err, load);
      },
    );
  }

  /** Re-reads queued buckets one at a time (a replay after a long disconnect can touch many). */
  function drainBuckets(): void {
    if (bucketInFlight) return;
    const start = bucketQueue.shift();
    if (start === undefined) return;
    const entry = buckets.get(start);
    if (!entry || entry.owner !== dash) {
      buckets.delete(start);
      return drainBuckets();
    }
    const target = entry.owner;
    bucketInFlight = true;
    api
      .request(bucketWindowsQuery(target.currency, { start, end: entry.end }))
      .then(
        (windows) => {
          buckets.delete(start);
          if (dash !== target) return;
          target.replaceBucket(start, windows);
          for (const u of entry.replay) applyUpdate(u);
          renderAll();
        },
        (err: unknown) => {
          buckets.delete(start);
          fail(err, load);
        },
      )
      .finally(() => {
        bucketInFlight = false;
        drainBuckets();
      });
  }

  function scheduleDistinct(): void {
    distinct.dirty = true;
    if (distinct.inFlight || distinct.timer) return;
    distinct.timer = setTimeout(refreshDistinct, Math.max(0, distinct.lastAt + DISTINCT_MIN_INTERVAL_MS - now()));
  }

  function refreshDistinct(): void {
    distinct.timer = null;
    const target = dash;
    if (!target || !settings) return;
    distinct = { ...distinct, dirty: false, inFlight: true, lastAt: now() };
    api
      .request(activeUsersQuery(target.period, target.currency))
      .then((series) => {
        if (dash !== target) return; // a full reload replaced it meanwhile
        target.replaceDistinct(series);
        renderAll();
      })
      .catch((err: unknown) => fail(err, scheduleDistinct))
      .finally(() => {
        distinct.inFlight = false;
        if (distinct.dirty) scheduleDistinct();
      });
  }

  function applyUpdate(u: WindowUpdateData): void {
    if (!dash) return;
    let pending = false;
    for (const [start, b] of buckets) {
      if (u.windowStart >= start && u.windowStart < b.end) {
        b.replay.push(u); // the bucket's read may or may not contain it: replay onto the read
        pending = true;
      }
    }
    const result = dash.apply(u);
    if (result === 'applied') renderAll();
    else if (result === 'refreshDistinct') scheduleDistinct();
    else if (result === 'fetchBucket' && !pending) {
      const b = dash.bucketOf(u.windowStart);
      if (!b) return;
      buckets.set(b.start, { end: b.end, replay: [u], owner: dash });
      bucketQueue.push(b.start);
      drainBuckets();
    }
  }

  function onUpdate(u: WindowUpdateData): void {
    observeFreshness(u.freshness);
    resumePoint = Math.max(resumePoint ?? 0, u.freshness.dataAsOf);
    sinceLoad?.push(u);
    applyUpdate(u);
    renderBadge();
  }

  function subscribe(): void {
    const generation = ++subscription;
    unsubscribe?.();
    if (!settings || stopped) return;
    // The first send starts live (a Dashboard read covers the past); re-sends after a
    // reconnect resume. A resume costs the server a storage read, so only when needed.
    let sends = 0;
    const resumeFrom = () => (sends++ === 0 || resumePoint === null ? null : resumePoint - RESUME_MARGIN_MS);
    unsubscribe = api.subscribe(liveUpdatesSubscription(settings.currency, resumeFrom), {
      next: (u) => {
        if (generation === subscription) onUpdate(u);
      },
      // e.g. SLOW_CONSUMER: the server ended the stream. Subscribe again (resuming) and re-read.
      error: (err) => {
        if (generation !== subscription) return; // we ended it ourselves (currency switch, stop)
        fail(err, () => {
          subscribe();
          load();
        });
      },
    });
  }

  function pollFreshness(): void {
    if (freshnessInFlight || !dash) return;
    freshnessInFlight = true;
    api
      .request(freshnessQuery())
      .then((f) => {
        observeFreshness(f);
        renderBadge();
      })
      .catch((err: unknown) => {
        if (err instanceof AuthRejected) deps.onAuthRejected(err.message);
      })
      .finally(() => (freshnessInFlight = false));
  }

  function tick(): void {
    if (stopped) return;
    renderBadge();
    if (dash && (now() >= dash.period.to || now() - dash.period.at >= RELOAD_EVERY_MS) && !sinceLoad) load();
    const quietFor = now() - lastFreshnessAt;
    const pollEvery = Math.min(5_000, Math.max(1_000, (freshness?.staleThresholdMs ?? 30_000) / 4));
    if (quietFor >= pollEvery) pollFreshness();
  }

  return {
    start(initial: Settings): void {
      settings = initial;
      subscribe();
      load();
      const interval = setInterval(tick, 500);
      timers.push(interval as unknown as ReturnType<typeof setTimeout>);
    },
    /** Applies a settings change: a new currency needs a new stream; anything but the chart metric a new read. */
    change(next: Partial<Settings>): void {
      if (!settings) return;
      const prev = settings;
      settings = { ...prev, ...next };
      if (settings.currency !== prev.currency) subscribe();
      if (settings.currency !== prev.currency || settings.period !== prev.period || settings.timeZone !== prev.timeZone) load();
      else renderAll();
    },
    connection(state: ConnectionState): void {
      connection = state;
      renderBadge();
    },
    /** The websocket came back: the re-sent subscription resumes; with nothing to resume from, read again. */
    reconnected(): void {
      if (resumePoint === null) load();
    },
    stop(): void {
      stopped = true;
      subscription += 1;
      unsubscribe?.();
      for (const t of timers) clearTimeout(t);
      timers = [];
    },
  };
}

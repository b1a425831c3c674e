/** Draws the dashboard into the page's fixed skeleton (web/index.html). No framework: a handful of elements. */
import type { ChartView, Metric, TileView } from '../model/dashboard.ts';
import type { BadgeState } from '../model/freshness.ts';
import { PERIODS, type Period } from '../model/period.ts';
import { createChart } from './chart.ts';
import { METRIC_LABEL, UP_IS_BAD, formatChange, formatValue } from './format.ts';

export interface ViewSettings {
  period: Period['kind'];
  currency: string;
  metric: Metric;
}

export interface Renderer {
  tiles(tiles: TileView[], s: ViewSettings, period: Period): void;
  chart(view: ChartView, s: ViewSettings, period: Period): void;
  badge(b: { state: BadgeState; text: string; ageMs: number | null }): void;
  /** Tile tooltips from the metric catalog. */
  describe(catalog: Record<string, { unit: string; description: string }>): void;
  error(message: string | null): void;
}

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

export function createRenderer(o: { onSelectMetric(metric: Metric): void }): Renderer {
  const tilesEl = $('tiles');
  const badgeEl = $('badge');
  const errorEl = $('error');
  const chartTitle = $('chart-title');
  const chart = createChart($('chart'));
  const tileEls = new Map<Metric, HTMLButtonElement>();
  let catalog: Record<string, { unit: string; description: string }> = {};

  function tileEl(metric: Metric): HTMLButtonElement {
    let el = tileEls.get(metric);
    if (!el) {
      el = document.createElement('button');
      el.type = 'button';
      el.className = 'tile';
      el.dataset.metric = metric;
      el.innerHTML = '<span class="tile-label"></span><span class="tile-value"></span><span class="tile-change"></span>';
      el.addEventListener('click', () => o.onSelectMetric(metric));
      tilesEl.append(el);
      tileEls.set(metric, el);
    }
    return el;
  }

  return {
    tiles(tiles, s, period) {
      // What the tiles show, for tests and for anyone reading the page: the exact range and currency.
      Object.assign(tilesEl.dataset, { currency: s.currency, from: new Date(period.from).toISOString(), to: new Date(period.to).toISOString(), timeZone: period.timeZone, granularity: period.granularity });
      const previousLabel = PERIODS.find((p) => p.kind === s.period)!.previousLabel;
      for (const t of tiles) {
        const el = tileEl(t.metric);
        el.dataset.value = t.value;
        const about = catalog[t.metric];
        if (about) el.title = `${about.description} (${about.unit})`;
        el.setAttribute('aria-pressed', String(t.metric === s.metric));
        el.querySelector('.tile-label')!.textContent = t.metric === 'REVENUE' ? `${METRIC_LABEL[t.metric]} (${s.currency})` : METRIC_LABEL[t.metric];
        el.querySelector('.tile-value')!.textContent = formatValue(t.metric, t.value, s.currency);
        const change = el.querySelector<HTMLElement>('.tile-change')!;
        change.textContent = `${formatChange(t.changePercent)} vs ${previousLabel} so far (${formatValue(t.metric, t.previousToDate, s.currency)})`;
        const good = t.changePercent === null || t.changePercent === 0 ? 'flat' : t.changePercent > 0 !== UP_IS_BAD.has(t.metric) ? 'good' : 'bad';
        change.dataset.trend = good;
      }
    },
    chart(view, s, period) {
      const p = PERIODS.find((x) => x.kind === s.period)!;
      chartTitle.textContent = `${METRIC_LABEL[s.metric]} · ${p.label.toLowerCase()} vs ${p.previousLabel} · ${period.timeZone}`;
      const previous = p.previousLabel.charAt(0).toUpperCase() + p.previousLabel.slice(1);
      chart.update(view, s.metric, s.currency, period, { current: p.label, previous });
    },
    badge(b) {
      badgeEl.dataset.state = b.state;
      if (badgeEl.textContent !== b.text) badgeEl.textContent = b.text;
    },
    describe(next) {
      catalog = next;
    },
    error(message) {
      errorEl.hidden = message === null;
      errorEl.textContent = message ?? '';
    },
  };
}

/** The line chart of the chosen metric: this period (solid) over the previous one (dashed), in the chosen time zone. */
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import type { ChartView, Metric } from '../model/dashboard.ts';
import type { Period } from '../model/period.ts';
import { formatValue } from './format.ts';

export function createChart(container: HTMLElement) {
  let plot: uPlot | null = null;
  let key = '';

  const size = () => ({ width: Math.max(320, container.clientWidth), height: Math.max(220, Math.min(360, Math.round(container.clientWidth * 0.32))) });
  new ResizeObserver(() => plot?.setSize(size())).observe(container);

  return {
    update(view: ChartView, metric: Metric, currency: string, period: Period, labels: { current: string; previous: string }): void {
      const data: uPlot.AlignedData = [view.starts.map((t) => t / 1000), view.current, view.previous];
      // Rebuild only when the axes change (metric, currency, zone, period); otherwise just new data.
      const nextKey = JSON.stringify([metric, currency, period.timeZone, period.kind, period.from, labels]);
      if (plot && nextKey === key) return plot.setData(data, true);
      key = nextKey;
      plot?.destroy();
      const fmt = (v: number | null) => (v === null ? '—' : formatValue(metric, v, currency));
      const dots = view.starts.length <= 60;
      plot = new uPlot(
        {
          ...size(),
          tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), period.timeZone),
          cursor: { drag: { x: false, y: false } },
          legend: { live: true },
          scales: { x: { time: true, range: [period.from / 1000, period.to / 1000] }, y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.1 : 1] } },
          axes: [
            { stroke: '#8b93a7', grid: { stroke: '#232a3b' }, ticks: { stroke: '#232a3b' } },
            { stroke: '#8b93a7', grid: { stroke: '#232a3b' }, ticks: { stroke: '#232a3b' }, size: 70, values: (_u, vals) => vals.map((v) => formatValue(metric, v, currency, true)) },
          ],
          series: [
            {},
            { label: labels.current, stroke: '#4f9dff', width: 2, fill: 'rgba(79,157,255,0.12)', value: (_u, v) => fmt(v), points: { show: dots, size: 5 } },
            { label: labels.previous, stroke: '#8b93a7', width: 1.5, dash: [6, 4], value: (_u, v) => fmt(v), points: { show: false } },
          ],
        },
        data,
        container,
      );
    },
  };
}

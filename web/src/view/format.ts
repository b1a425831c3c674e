/** Display formatting (floats are fine here: nothing is added up after this). */
import type { Metric } from '../model/dashboard.ts';

export const METRIC_LABEL: Record<Metric, string> = {
  REVENUE: 'Revenue',
  PURCHASES: 'Purchases',
  SIGNUPS: 'Signups',
  UPGRADES: 'Upgrades',
  CHURNS: 'Churns',
  ACTIVE_USERS: 'Active users',
};

/** Metrics where going up is bad news (the change is coloured accordingly). */
export const UP_IS_BAD: ReadonlySet<Metric> = new Set(['CHURNS']);

export function formatValue(metric: Metric, value: string | number, currency: string, compact = false): string {
  const n = typeof value === 'number' ? value : Number(value);
  if (metric === 'REVENUE') {
    return new Intl.NumberFormat(undefined, { style: 'currency', currency, notation: compact ? 'compact' : 'standard', maximumFractionDigits: compact ? 1 : undefined }).format(n);
  }
  return new Intl.NumberFormat(undefined, { notation: compact ? 'compact' : 'standard', maximumFractionDigits: compact ? 1 : 0 }).format(n);
}

export function formatChange(percent: number | null): string {
  if (percent === null) return '—';
  const sign = percent > 0 ? '+' : percent < 0 ? '−' : '±';
  return `${sign}${Math.abs(percent).toFixed(Math.abs(percent) < 10 ? 1 : 0)}%`;
}

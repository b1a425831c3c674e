/** Entry point: finds a token, builds the controls, starts the controller. */
import { createApiClient } from './api/client.ts';
import { forgetToken, findToken, rememberToken, tenantOf } from './auth.ts';
import { createController, type Settings } from './controller.ts';
import { METRICS, type Metric } from './model/dashboard.ts';
import { PERIODS, isTimeZone, type PeriodKind } from './model/period.ts';
import { createRenderer } from './view/render.ts';
import './styles.css';

const CURRENCIES = ['USD', 'EUR', 'JPY', 'GBP'];
const browserZone = Intl.DateTimeFormat().resolvedOptions().timeZone;
const ZONES = [...new Set(['UTC', browserZone, 'America/New_York', 'America/Los_Angeles', 'Europe/London', 'Europe/Berlin', 'Asia/Kolkata', 'Asia/Tokyo', 'Australia/Sydney'])];

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

/** Settings live in the query string, so a view can be bookmarked or shared. */
function initialSettings(): Settings {
  const q = new URLSearchParams(location.search);
  const period = PERIODS.some((p) => p.kind === q.get('period')) ? (q.get('period') as PeriodKind) : 'today';
  const currency = /^[A-Z]{3}$/.test(q.get('currency') ?? '') ? q.get('currency')! : 'USD';
  const tz = q.get('tz');
  const timeZone = tz && isTimeZone(tz) ? tz : browserZone;
  const metric = (METRICS as readonly string[]).includes(q.get('metric') ?? '') ? (q.get('metric') as Metric) : 'REVENUE';
  return { period, currency, timeZone, metric };
}

function saveSettings(s: Settings): void {
  const q = new URLSearchParams({ period: s.period, currency: s.currency, tz: s.timeZone, metric: s.metric });
  history.replaceState(null, '', `${location.pathname}?${q}${location.hash}`);
}

function option(value: string, label = value): HTMLOptionElement {
  const o = document.createElement('option');
  o.value = value;
  o.textContent = label;
  return o;
}

function askForToken(message: string | null): void {
  $('app').hidden = true;
  $('login').hidden = false;
  $('login-error').textContent = message ?? '';
  $<HTMLFormElement>('login-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const token = $<HTMLTextAreaElement>('login-token').value.trim();
    if (!token) return;
    rememberToken(token);
    location.reload();
  });
}

function start(token: string, demo: boolean): void {
  let settings = initialSettings();
  $('tenant').textContent = `${tenantOf(token) ?? '?'}${demo ? ' · demo' : ''}`;

  const periods = $('periods');
  for (const p of PERIODS) {
    const b = document.createElement('button');
    b.type = 'button';
    b.textContent = p.label;
    b.dataset.period = p.kind;
    b.addEventListener('click', () => change({ period: p.kind }));
    periods.append(b);
  }
  const currency = $<HTMLSelectElement>('currency');
  for (const c of new Set([...CURRENCIES, settings.currency])) currency.append(option(c));
  currency.addEventListener('change', () => change({ currency: currency.value }));
  const zone = $<HTMLSelectElement>('tz');
  for (const z of new Set([...ZONES, settings.timeZone])) zone.append(option(z));
  zone.addEventListener('change', () => change({ timeZone: zone.value }));

  const syncControls = () => {
    for (const b of periods.querySelectorAll<HTMLButtonElement>('button')) b.setAttribute('aria-pressed', String(b.dataset.period === settings.period));
    currency.value = settings.currency;
    zone.value = settings.timeZone;
    saveSettings(settings);
  };

  const render = createRenderer({ onSelectMetric: (metric) => change({ metric }) });
  let controller: ReturnType<typeof createController> | null = null;
  const api = createApiClient({
    origin: location.origin,
    token,
    onConnection: (state) => controller?.connection(state),
    onReconnected: () => controller?.reconnected(),
  });
  controller = createController({
    api,
    render,
    onAuthRejected: (message) => {
      controller?.stop();
      api.dispose();
      if (!demo) forgetToken();
      askForToken(`${message}. Paste a valid read token.`);
    },
  });
  function change(next: Partial<Settings>): void {
    settings = { ...settings, ...next };
    syncControls();
    controller!.change(next);
  }
  syncControls();
  controller.start(settings);
}

const found = findToken();
if (found) start(found.token, found.demo);
else askForToken(null);

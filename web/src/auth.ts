/**
 * Where the dashboard's token comes from, in order:
 * 1. `<meta name="tilecast-demo-token">`: only `tilecast start --demo` injects it (a
 *    short-lived read token for the demo tenant); never present otherwise;
 * 2. `#token=…` in the address (the fragment never reaches a server or its logs),
 *    moved into sessionStorage and removed from the address bar;
 * 3. sessionStorage from an earlier visit in this tab;
 * 4. otherwise the page asks for one (`tilecast token --tenant T --scope read`).
 */
const STORAGE_KEY = 'tilecast.token';

export function findToken(): { token: string; demo: boolean } | null {
  const demo = document.querySelector<HTMLMetaElement>('meta[name="tilecast-demo-token"]')?.content;
  if (demo) return { token: demo, demo: true };
  const fromHash = new URLSearchParams(location.hash.slice(1)).get('token');
  if (fromHash) {
    sessionStorage.setItem(STORAGE_KEY, fromHash);
    history.replaceState(null, '', location.pathname + location.search);
    return { token: fromHash, demo: false };
  }
  const stored = sessionStorage.getItem(STORAGE_KEY);
  return stored ? { token: stored, demo: false } : null;
}

export const rememberToken = (token: string): void => sessionStorage.setItem(STORAGE_KEY, token);
export const forgetToken = (): void => sessionStorage.removeItem(STORAGE_KEY);

/** The token's tenant, for display only (the server verifies; the page never trusts this). */
export function tenantOf(token: string): string | null {
  try {
    const payload = token.split('.')[1] ?? '';
    const json = JSON.parse(atob(payload.replace(/-/g, '+').replace(/_/g, '/'))) as { tenant?: unknown };
    return typeof json.tenant === 'string' ? json.tenant : null;
  } catch {
    return null;
  }
}

/**
 * The request a piece of work belongs to, carried through async calls with
 * AsyncLocalStorage, so every log line written while serving a request names it
 * (request id, tenant once authenticated, trace id) without threading a child
 * logger through every layer. The storage is module-level on purpose: like
 * OpenTelemetry's context it is propagation plumbing, not state — each request
 * sees only its own scope, however many apps share the process.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';

export interface RequestScope {
  readonly requestId: string;
  /** Set once the caller's token is verified. */
  tenant?: string;
  /** GraphQL operations executed for this request (`query Dashboard`; a batch has several). */
  operations?: string[];
}

const scopes = new AsyncLocalStorage<RequestScope>();

/** An incoming `x-request-id` when it is a sane token (≤ 128 visible ASCII chars), else a fresh UUID. */
export function requestIdFrom(header: string | string[] | undefined): string {
  const v = Array.isArray(header) ? header[0] : header;
  return v && /^[\x21-\x7e]{1,128}$/.test(v) ? v : randomUUID();
}

export function runInRequestScope<T>(scope: RequestScope, fn: () => T): T {
  return scopes.run(scope, fn);
}

export const currentRequestScope = (): RequestScope | undefined => scopes.getStore();

/** Records a GraphQL operation executed for the current request (no-op outside one). */
export function addRequestOperation(operation: string): void {
  const s = scopes.getStore();
  if (s) (s.operations ??= []).push(operation);
}

/** Records the authenticated tenant on the current request (no-op outside one). */
export function setRequestTenant(tenant: string | undefined): void {
  const s = scopes.getStore();
  if (s && tenant) s.tenant = tenant;
}

/**
 * What stands between the internet and the GraphQL executor, as yoga/envelop plugins:
 *
 * 1. Authentication first: every operation on /graphql needs a valid bearer token, checked
 *    before the body is parsed; otherwise 401 with the reason. Unauthenticated callers get
 *    the GraphiQL page (static, no data, no schema) and nothing else — introspection and
 *    field suggestions need a token like any query.
 * 2. Request rate per tenant (token bucket, per process — see rate-limit.ts): 429 + Retry-After.
 * 3. CSRF prevention for browsers (yoga's plugin): a request a page can send without a CORS
 *    preflight (GET, or form/text content types) must carry a custom header.
 * 4. Document limits (GraphQL Armor): tokens, depth, aliases, directives and a static cost,
 *    each rejected during parse/validation with a message naming the limit.
 * Body size is yoga's `maxRequestBodySize` (413), and unexpected errors are masked by yoga.
 */
import { EnvelopArmor } from '@escape.tech/graphql-armor';
import { useCSRFPrevention } from '@graphql-yoga/plugin-csrf-prevention';
import type { Plugin } from 'graphql-yoga';
import { AuthError, bearerToken, type Principal, type TokenService } from './tokens.ts';
import { createRateLimiter } from './rate-limit.ts';

/** Document limits. Tilecast's deepest useful selection is 5 levels; a 50-series dashboard with comparisons stays far below these. */
export const DOCUMENT_LIMITS = { maxTokens: 10_000, maxDepth: 10, maxAliases: 120, maxDirectives: 20, maxCost: 20_000 } as const;

/** Header a browser page must send with GET (or form-encoded) GraphQL requests. */
export const CSRF_HEADER = 'x-graphql-csrf';

export interface GuardOptions {
  tokens: TokenService;
  graphqlPath: string;
  rateLimit: { perSecond: number; burst: number };
  clock: () => number;
}

const json = (status: number, code: string, message: string, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify({ errors: [{ message, extensions: { code } }] }), {
    status,
    headers: { 'content-type': 'application/json; charset=utf-8', ...headers },
  });

export function createGuards(o: GuardOptions) {
  const principals = new WeakMap<Request, Principal>();
  const limiter = createRateLimiter({ ...o.rateLimit, clock: o.clock });

  /** The bearer token's principal; null when no Authorization header was sent. Throws AuthError for a bad one. */
  async function authenticate(header: string | null | undefined): Promise<Principal | null> {
    if (!header) return null;
    const token = bearerToken(header);
    if (!token) throw new AuthError('Unauthenticated: Authorization must be "Bearer <token>"', 'UNAUTHENTICATED');
    return o.tokens.verify(token);
  }

  const authFirst: Plugin = {
    async onRequest({ request, url, endResponse }) {
      if (url.pathname !== o.graphqlPath) return;
      let principal: Principal | null;
      try {
        principal = await authenticate(request.headers.get('authorization'));
      } catch (err) {
        if (err instanceof AuthError) return endResponse(json(401, err.code, err.message, { 'www-authenticate': 'Bearer' }));
        throw err;
      }
      if (!principal) {
        return endResponse(
          json(401, 'UNAUTHENTICATED', 'Missing bearer token: send "Authorization: Bearer <token>" (mint one with `tilecast token`)', { 'www-authenticate': 'Bearer' }),
        );
      }
      const admitted = limiter.take(principal.tenantId);
      if (!admitted.ok) {
        const seconds = Math.max(1, Math.ceil(admitted.retryAfterMs / 1000));
        return endResponse(
          json(429, 'RATE_LIMITED', `Too many requests for this tenant (${o.rateLimit.perSecond}/s, bursts of ${o.rateLimit.burst}): retry after ${seconds} s, or batch tiles into one query`, {
            'retry-after': String(seconds),
          }),
        );
      }
      principals.set(request, principal);
    },
  };

  const armor = new EnvelopArmor({
    maxTokens: { n: DOCUMENT_LIMITS.maxTokens },
    // A fragment spread counts as a level, so long chains of fragments are refused too.
    maxDepth: { n: DOCUMENT_LIMITS.maxDepth, flattenFragments: false },
    maxAliases: { n: DOCUMENT_LIMITS.maxAliases },
    maxDirectives: { n: DOCUMENT_LIMITS.maxDirectives },
    costLimit: { maxCost: DOCUMENT_LIMITS.maxCost, flattenFragments: true },
    // Callers are authenticated and the schema is public to them (introspection is on): keep suggestions.
    blockFieldSuggestion: { enabled: false },
  });

  return {
    /** Yoga plugins, in order. */
    plugins: [authFirst, useCSRFPrevention({ requestHeaders: [CSRF_HEADER, 'x-graphql-yoga-csrf'] }), ...armor.protect().plugins] as Plugin[],
    /** The principal authFirst verified for this HTTP request. */
    principalOf: (request: Request): Principal | null => principals.get(request) ?? null,
    /** For websocket connection_init: same verification, same errors. */
    authenticate,
  };
}

export type Guards = ReturnType<typeof createGuards>;

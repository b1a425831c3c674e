/**
 * What stands between the internet and the GraphQL executor, as yoga/envelop plugins:
 *
 * 1. Authentication first: every operation on /graphql needs a valid bearer token, checked
 *    before the body is parsed; otherwise 401 with the reason. Unauthenticated callers get
 *    the GraphiQL page (static, no data, no schema) and nothing else — introspection and
 *    field suggestions need a token like any query.
 * 2. Request rate per tenant (token bucket — in memory, or shared by the replicas through
 *    Redis; see rate-limit.ts): 429 + Retry-After. Websocket subscribe messages take from
 *    the same bucket (`admit`, used by src/app/ws/server.ts).
 * 3. HTTP carries queries only (GET or POST, as graphql-http recommends): yoga itself refuses a
 *    mutation over GET (405), and subscriptions over HTTP are refused here — they are served
 *    over websockets (graphql-ws), which have the connection and slow-consumer limits.
 * 4. Document limits (GraphQL Armor): tokens, depth, aliases, directives and a static cost,
 *    each rejected during parse/validation with a message naming the limit. Introspection
 *    under `__schema` is exempt from depth and cost (GraphiQL's introspection query is 21
 *    levels deep counted this way); `__type` is not. graphql-js's MaxIntrospectionDepthRule
 *    refuses circular introspection (`fields { type { fields { type { fields …`: three lists
 *    of types deep, under `__schema` or `__type`) and the token limit bounds the rest.
 * Body size is yoga's `maxRequestBodySize` (413), and unexpected errors are masked by yoga.
 *
 * No CSRF check: the only credential is the bearer header (websockets: the connection_init
 * payload, or the upgrade's header), which a browser never attaches by itself; cookies
 * authenticate nothing. A page
 * of another site can send requests but without a token, so they get 401. CORS (see
 * `corsFor`) never allows credentials, so even behind a proxy that turns a session cookie
 * into the bearer header a cross-site page can neither read an answer nor send a
 * preflighted request with the cookie.
 */
import { EnvelopArmor } from '@escape.tech/graphql-armor';
import { getOperationAST, GraphQLError } from 'graphql';
import { shouldRenderGraphiQL, type Plugin } from 'graphql-yoga';
import { AuthError, bearerToken, type Principal, type TokenService } from './tokens.ts';
import { createRateLimiter, type Admission, type TenantRateLimiter } from './rate-limit.ts';

/** Document limits. Tilecast's deepest useful selection is 5 levels; a 50-series dashboard with comparisons stays far below these. */
export const DOCUMENT_LIMITS = { maxTokens: 10_000, maxDepth: 10, maxAliases: 120, maxDirectives: 20, maxCost: 20_000 } as const;

/**
 * Yoga's CORS options per request: any origin may call the API with a bearer token (dashboards
 * are often served from another origin), but never with cookies (`credentials: false`), and
 * the GraphiQL page is not shared with other origins at all (in demo mode it carries a token).
 */
export function corsFor(request: Request): false | { credentials: false } {
  return shouldRenderGraphiQL(request) ? false : { credentials: false };
}

/**
 * Refuses subscriptions over HTTP (yoga would otherwise stream them as server-sent events,
 * outside the websocket limits). Runs after parsing, like yoga's own mutation-over-GET check;
 * websocket operations are built without a `request` in their context and pass.
 */
const subscriptionsOverWebSocketsOnly: Plugin = {
  onParse() {
    return ({ result, context }) => {
      const { request, params } = context as { request?: Request; params?: { operationName?: string | null } };
      if (!request || result instanceof Error || !result) return;
      if (getOperationAST(result, params?.operationName ?? undefined)?.operation !== 'subscription') return;
      throw new GraphQLError('Subscriptions are served over websockets at this path (graphql-ws, protocol graphql-transport-ws; token in the connection_init payload), not over HTTP', {
        extensions: { code: 'BAD_REQUEST', http: { status: 400 } },
      });
    };
  },
};

export interface GuardOptions {
  tokens: TokenService;
  graphqlPath: string;
  rateLimit: { perSecond: number; burst: number };
  clock: () => number;
  /** Where the per-tenant buckets live; default in memory (createRateLimiter with `rateLimit` and `clock`). */
  limiter?: TenantRateLimiter;
}

const json = (status: number, code: string, message: string, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify({ errors: [{ message, extensions: { code } }] }), {
    status,
    headers: { 'content-type': 'application/json; charset=utf-8', ...headers },
  });

export function createGuards(o: GuardOptions) {
  const principals = new WeakMap<Request, Principal>();
  const limiter = o.limiter ?? createRateLimiter({ ...o.rateLimit, clock: o.clock });
  const tooMany = (retryAfterMs: number) => {
    const seconds = Math.max(1, Math.ceil(retryAfterMs / 1000));
    return { seconds, message: `Too many requests for this tenant (${o.rateLimit.perSecond}/s, bursts of ${o.rateLimit.burst}): retry after ${seconds} s, or batch tiles into one query` };
  };

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
      const admitted = await limiter.take(principal.tenantId);
      if (!admitted.ok) {
        const refused = tooMany(admitted.retryAfterMs);
        return endResponse(json(429, 'RATE_LIMITED', refused.message, { 'retry-after': String(refused.seconds) }));
      }
      principals.set(request, principal);
    },
  };

  const armor = new EnvelopArmor({
    maxTokens: { n: DOCUMENT_LIMITS.maxTokens },
    // A fragment spread counts as a level, so long chains of fragments are refused too.
    // Armor's default, stated: fields under `__schema` are not counted (see the header).
    maxDepth: { n: DOCUMENT_LIMITS.maxDepth, flattenFragments: false, ignoreIntrospection: true },
    maxAliases: { n: DOCUMENT_LIMITS.maxAliases },
    maxDirectives: { n: DOCUMENT_LIMITS.maxDirectives },
    costLimit: { maxCost: DOCUMENT_LIMITS.maxCost, flattenFragments: true, ignoreIntrospection: true },
    // Callers are authenticated and the schema is public to them (introspection is on): keep suggestions.
    blockFieldSuggestion: { enabled: false },
  });

  return {
    /** Yoga plugins, in order. */
    plugins: [authFirst, subscriptionsOverWebSocketsOnly, ...armor.protect().plugins] as Plugin[],
    /** The principal authFirst verified for this HTTP request. */
    principalOf: (request: Request): Principal | null => principals.get(request) ?? null,
    /** For websocket connection_init: same verification, same errors. */
    authenticate,
    /**
     * For websocket subscribe messages: takes from the tenant's bucket like an HTTP request;
     * null when admitted, else the error to answer that subscription with.
     */
    async admit(tenantId: string): Promise<GraphQLError | null> {
      const admitted: Admission = await limiter.take(tenantId);
      if (admitted.ok) return null;
      const refused = tooMany(admitted.retryAfterMs);
      return new GraphQLError(refused.message, { extensions: { code: 'RATE_LIMITED', retryAfterMs: admitted.retryAfterMs } });
    },
  };
}

export type Guards = ReturnType<typeof createGuards>;

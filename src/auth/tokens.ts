/**
 * Tenant-scoped bearer tokens, verified with jose. Two kinds are accepted:
 * - HS256 tokens signed with AUTH_SECRET (`tilecast token`; issuer and audience "tilecast",
 *   claims `tenant` and `scope`);
 * - RS256 tokens of an identity provider, keys from its JWKS (AUTH_JWKS_URL), with the
 *   configured issuer and audience, tenant and scope in configurable claims (the scope
 *   claim may be a space-separated string or an array; its values read|ingest|admin).
 * Anything else — `alg: none`, another algorithm, a bad signature, expired — is refused
 * with an AuthError saying why. The token's tenant is the only tenant a caller can read
 * or write; it is never taken from arguments or headers.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SignJWT, createRemoteJWKSet, decodeProtectedHeader, errors, jwtVerify, type JWTPayload } from 'jose';
import { z } from 'zod';
import { tenantIdSchema } from '../contracts/event.ts';

export const SCOPES = ['read', 'ingest', 'admin'] as const;
export type Scope = (typeof SCOPES)[number];

export interface Principal {
  tenantId: string;
  /** The strongest scope granted. */
  scope: Scope;
  /** Every scope granted (identity-provider tokens may carry several); defaults to [scope]. */
  scopes?: readonly Scope[];
}

export class AuthError extends Error {
  constructor(
    message: string,
    readonly code: 'UNAUTHENTICATED' | 'FORBIDDEN',
  ) {
    super(message);
    this.name = 'AuthError';
  }
}

const ISSUER = 'tilecast';
const AUDIENCE = 'tilecast';
const claims = z.object({ tenant: tenantIdSchema, scope: z.enum(SCOPES) });

/** admin may do everything; read and ingest only themselves. */
export const allows = (p: Principal, needed: Scope): boolean => (p.scopes ?? [p.scope]).some((s) => s === 'admin' || s === needed);

export function requireScope(p: Principal | null, needed: Scope): Principal {
  if (!p) throw new AuthError('Missing bearer token: send "Authorization: Bearer <token>" (mint one with `tilecast token`)', 'UNAUTHENTICATED');
  if (!allows(p, needed)) throw new AuthError(`This token has scope "${p.scope}"; this operation needs "${needed}"`, 'FORBIDDEN');
  return p;
}

/** Extracts the token from an `Authorization: Bearer …` value. */
export function bearerToken(header: string | null | undefined): string | null {
  const m = /^Bearer\s+([A-Za-z0-9._~+/=-]+)\s*$/i.exec(header ?? '');
  return m?.[1] ?? null;
}

/** Parses "1h", "30m", "7d", "90s" into seconds. */
export function parseTtl(ttl: string): number {
  const m = /^(\d+)([smhd])$/.exec(ttl.trim());
  if (!m) throw new Error(`Invalid TTL "${ttl}": use e.g. 90s, 30m, 1h, 7d`);
  return Number(m[1]) * { s: 1, m: 60, h: 3600, d: 86_400 }[m[2] as 's' | 'm' | 'h' | 'd'];
}

/** An identity provider whose RS256 tokens are accepted. */
export interface JwksOptions {
  url: string;
  issuer: string;
  audience: string;
  /** Claim holding the tenant id (default "tenant"); may be a namespaced URL. */
  tenantClaim?: string;
  /** Claim holding the scopes (default "scope"): "read ingest" or ["read", "ingest"]. */
  scopeClaim?: string;
}

const scopeList = z.union([z.string().transform((s) => s.split(/\s+/).filter(Boolean)), z.array(z.string())]);

/** The scopes of an identity-provider token that Tilecast knows, strongest first. */
function principalFromIdp(payload: JWTPayload, o: JwksOptions): Principal {
  const tenantId = tenantIdSchema.parse(payload[o.tenantClaim ?? 'tenant']);
  const granted = scopeList.parse(payload[o.scopeClaim ?? 'scope']).filter((s): s is Scope => (SCOPES as readonly string[]).includes(s));
  const scopes = [...SCOPES].reverse().filter((s) => granted.includes(s));
  if (scopes.length === 0) throw new z.ZodError([]);
  return { tenantId, scope: scopes[0]!, scopes };
}

function reasonOf(err: unknown, alg: string): string {
  if (err instanceof errors.JWTExpired) return 'token expired';
  if (err instanceof errors.JWSSignatureVerificationFailed) return 'signature does not verify (tampered, or signed with another key)';
  if (err instanceof errors.JWTClaimValidationFailed) return `claim "${err.claim}" is not accepted (${err.reason})`;
  if (err instanceof errors.JOSEAlgNotAllowed) return 'token algorithm is not accepted';
  if (err instanceof errors.JWKSNoMatchingKey) return 'no key of the identity provider matches the token';
  if (err instanceof z.ZodError) return 'token claims are invalid: it needs a tenant and a scope (read, ingest or admin)';
  if (err instanceof errors.JWTInvalid || err instanceof errors.JWSInvalid) return 'token is malformed';
  // Timeouts, non-200 answers and unreachable JWKS URLs: not the caller's fault, but no key to verify with.
  return alg === 'RS256' ? 'keys of the identity provider are unavailable' : 'token cannot be verified';
}

/**
 * Mints HS256 tokens and verifies both kinds (see the file comment).
 * `jwks`: accept RS256 tokens of that identity provider (keys fetched and cached by jose,
 * refetched when a token names an unknown key id).
 */
export function createTokenService(secret: string, o: { jwks?: JwksOptions } = {}) {
  const key = new TextEncoder().encode(secret);
  const remoteKeys = o.jwks ? createRemoteJWKSet(new URL(o.jwks.url), { timeoutDuration: 5_000, cooldownDuration: 30_000 }) : null;
  const accepted = o.jwks ? 'HS256, or RS256 from the configured identity provider' : 'HS256';
  return {
    async mint(m: { tenantId: string; scope: Scope; ttlSeconds: number }): Promise<string> {
      tenantIdSchema.parse(m.tenantId);
      return new SignJWT({ tenant: m.tenantId, scope: m.scope })
        .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
        .setIssuer(ISSUER)
        .setAudience(AUDIENCE)
        .setSubject(m.tenantId)
        .setIssuedAt()
        .setExpirationTime(`${m.ttlSeconds}s`)
        .sign(key);
    },
    /** Verifies signature, algorithm, issuer, audience and expiry; throws AuthError saying what is wrong. */
    async verify(token: string): Promise<Principal> {
      let alg: string | undefined;
      try {
        alg = decodeProtectedHeader(token).alg;
      } catch {
        throw new AuthError('Unauthenticated: token is malformed (expected a JWT: header.payload.signature)', 'UNAUTHENTICATED');
      }
      if (!alg || alg.toLowerCase() === 'none') throw new AuthError('Unauthenticated: unsigned tokens (alg "none") are never accepted', 'UNAUTHENTICATED');
      if (alg !== 'HS256' && !(alg === 'RS256' && remoteKeys && o.jwks)) {
        throw new AuthError(`Unauthenticated: token algorithm "${alg}" is not accepted (accepted: ${accepted})`, 'UNAUTHENTICATED');
      }
      try {
        if (alg === 'HS256') {
          const { payload } = await jwtVerify(token, key, { algorithms: ['HS256'], issuer: ISSUER, audience: AUDIENCE });
          const c = claims.parse(payload);
          return { tenantId: c.tenant, scope: c.scope };
        }
        const { payload } = await jwtVerify(token, remoteKeys!, { algorithms: ['RS256'], issuer: o.jwks!.issuer, audience: o.jwks!.audience });
        return principalFromIdp(payload, o.jwks!);
      } catch (err) {
        throw new AuthError(`Unauthenticated: ${reasonOf(err, alg)}`, 'UNAUTHENTICATED');
      }
    },
  };
}

export type TokenService = ReturnType<typeof createTokenService>;

/**
 * AUTH_SECRET when set; otherwise the embedded default keeps a random secret in
 * DATA_DIR/auth-secret (mode 0600), shared by `tilecast start` and `tilecast token`.
 */
export function resolveSecret(configured: string | undefined, dataDir: string): string {
  if (configured) return configured;
  const file = join(dataDir, 'auth-secret');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  mkdirSync(dataDir, { recursive: true });
  const secret = randomBytes(32).toString('hex');
  writeFileSync(file, `${secret}\n`, { mode: 0o600, flag: 'wx' });
  chmodSync(file, 0o600);
  return secret;
}

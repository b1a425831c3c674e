/**
 * Tenant-scoped bearer tokens (JWT, HS256 with AUTH_SECRET, verified with jose).
 * The token's tenant is the only tenant a caller can read or write; it is never
 * taken from arguments or headers.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SignJWT, errors, jwtVerify } from 'jose';
import { z } from 'zod';
import { tenantIdSchema } from '../contracts/event.ts';

export const SCOPES = ['read', 'ingest', 'admin'] as const;
export type Scope = (typeof SCOPES)[number];

export interface Principal {
  tenantId: string;
  scope: Scope;
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
export const allows = (p: Principal, needed: Scope): boolean => p.scope === 'admin' || p.scope === needed;

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

export function createTokenService(secret: string) {
  const key = new TextEncoder().encode(secret);
  return {
    async mint(o: { tenantId: string; scope: Scope; ttlSeconds: number }): Promise<string> {
      tenantIdSchema.parse(o.tenantId);
      return new SignJWT({ tenant: o.tenantId, scope: o.scope })
        .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
        .setIssuer(ISSUER)
        .setAudience(AUDIENCE)
        .setSubject(o.tenantId)
        .setIssuedAt()
        .setExpirationTime(`${o.ttlSeconds}s`)
        .sign(key);
    },
    /** Verifies signature, algorithm, issuer, audience and expiry; throws AuthError. */
    async verify(token: string): Promise<Principal> {
      try {
        const { payload } = await jwtVerify(token, key, { algorithms: ['HS256'], issuer: ISSUER, audience: AUDIENCE });
        const c = claims.parse(payload);
        return { tenantId: c.tenant, scope: c.scope };
      } catch (err) {
        const why = err instanceof errors.JWTExpired ? 'token expired' : err instanceof z.ZodError ? 'token claims are invalid' : 'token is invalid';
        throw new AuthError(`Unauthenticated: ${why}`, 'UNAUTHENTICATED');
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

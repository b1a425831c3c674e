/**
 * Token verification: HS256 with the secret, RS256 through a JWKS served by a local HTTP
 * server with a generated key set, and every way a token can be wrong, each with its reason.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignJWT, UnsecuredJWT, exportJWK, generateKeyPair, type CryptoKey, type JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTokenService, type TokenService } from '../../src/auth/tokens.ts';
import { createRateLimiter } from '../../src/auth/rate-limit.ts';

const SECRET = 's'.repeat(40);
const ISSUER = 'https://idp.test/';
const AUDIENCE = 'tilecast-api';
let server: Server;
let jwksUrl: string;
let idpKey: CryptoKey;
let strangerKey: CryptoKey;
let tokens: TokenService;
let jwksHits = 0;

beforeAll(async () => {
  const idp = await generateKeyPair('RS256');
  const stranger = await generateKeyPair('RS256');
  idpKey = idp.privateKey;
  strangerKey = stranger.privateKey;
  const jwk: JWK = { ...(await exportJWK(idp.publicKey)), kid: 'idp-1', alg: 'RS256', use: 'sig' };
  server = createServer((_req, res) => {
    jwksHits += 1;
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ keys: [jwk] }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  jwksUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks.json`;
  tokens = createTokenService(SECRET, {
    jwks: { url: jwksUrl, issuer: ISSUER, audience: AUDIENCE, tenantClaim: 'https://tilecast.dev/tenant', scopeClaim: 'scope' },
  });
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

const idpToken = (o: { claims?: Record<string, unknown>; key?: CryptoKey; kid?: string; iss?: string; aud?: string; exp?: string | number } = {}) =>
  new SignJWT({ 'https://tilecast.dev/tenant': 'acme', scope: 'openid read', ...o.claims })
    .setProtectedHeader({ alg: 'RS256', kid: o.kid ?? 'idp-1' })
    .setIssuer(o.iss ?? ISSUER)
    .setAudience(o.aud ?? AUDIENCE)
    .setIssuedAt()
    .setExpirationTime(o.exp ?? '5m')
    .sign(o.key ?? idpKey);

const reason = async (token: string) => tokens.verify(token).then(() => 'accepted', (err: Error) => err.message);

describe('HS256 tokens', () => {
  it('round-trips tenant and scope', async () => {
    expect(await tokens.verify(await tokens.mint({ tenantId: 'acme', scope: 'read', ttlSeconds: 60 }))).toEqual({ tenantId: 'acme', scope: 'read' });
  });

  it('refuses expired, tampered, re-signed, unsigned and wrong-algorithm tokens, saying why', async () => {
    const good = await tokens.mint({ tenantId: 'acme', scope: 'read', ttlSeconds: 60 });
    const [h, p, s] = good.split('.') as [string, string, string];
    const forgedPayload = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(p, 'base64url').toString()), tenant: 'globex' })).toString('base64url');
    const expired = await new SignJWT({ tenant: 'acme', scope: 'read' })
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuer('tilecast')
      .setAudience('tilecast')
      .setExpirationTime(Math.floor(Date.now() / 1000) - 60)
      .sign(new TextEncoder().encode(SECRET));
    const otherSecret = await createTokenService('x'.repeat(40)).mint({ tenantId: 'globex', scope: 'admin', ttlSeconds: 60 });
    const hs512 = await new SignJWT({ tenant: 'acme', scope: 'admin' })
      .setProtectedHeader({ alg: 'HS512' })
      .setIssuer('tilecast')
      .setAudience('tilecast')
      .setExpirationTime('5m')
      .sign(new TextEncoder().encode(SECRET.repeat(2)));
    const none = new UnsecuredJWT({ tenant: 'globex', scope: 'admin' }).setIssuer('tilecast').setAudience('tilecast').setExpirationTime('5m').encode();
    const noneUpper = `${Buffer.from(JSON.stringify({ alg: 'NONE', typ: 'JWT' })).toString('base64url')}.${none.split('.')[1]}.`;
    const wrongIssuer = await new SignJWT({ tenant: 'acme', scope: 'admin' })
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuer('someone-else')
      .setAudience('tilecast')
      .setExpirationTime('5m')
      .sign(new TextEncoder().encode(SECRET));
    const noScope = await new SignJWT({ tenant: 'acme' })
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuer('tilecast')
      .setAudience('tilecast')
      .setExpirationTime('5m')
      .sign(new TextEncoder().encode(SECRET));
    const cases: [string, string, RegExp][] = [
      ['tampered payload', `${h}.${forgedPayload}.${s}`, /signature does not verify/],
      ['tampered signature', `${h}.${p}.${s.slice(0, -4)}AAAA`, /signature does not verify/],
      ['re-signed with another secret', otherSecret, /signature does not verify/],
      ['expired', expired, /token expired/],
      ['alg none', none, /alg "none"\) are never accepted/],
      ['alg NONE', noneUpper, /alg "none"\) are never accepted/],
      ['HS512', hs512, /algorithm "HS512" is not accepted/],
      ['wrong issuer', wrongIssuer, /claim "iss" is not accepted/],
      ['no scope', noScope, /claims are invalid/],
      ['garbage', 'not.a.token', /malformed/],
      ['two parts', 'abc.def', /malformed/],
    ];
    for (const [name, token, expected] of cases) expect(await reason(token), name).toMatch(expected);
  });
});

describe('RS256 tokens from a JWKS', () => {
  it('accepts the identity provider’s tokens with configured claim names and several scopes', async () => {
    expect(await tokens.verify(await idpToken())).toEqual({ tenantId: 'acme', scope: 'read', scopes: ['read'] });
    expect(await tokens.verify(await idpToken({ claims: { scope: ['ingest', 'read'] } }))).toMatchObject({ scope: 'ingest', scopes: ['ingest', 'read'] });
    expect(jwksHits).toBeGreaterThan(0);
  });

  it('refuses another key, unknown kid, wrong audience/issuer, expiry, no tenant, no known scope, and RS256 claiming to be HS256', async () => {
    const good = await idpToken();
    const [, p, s] = good.split('.') as [string, string, string];
    // Algorithm confusion: an RS256 token's header switched to HS256 (signature then checked with the secret).
    const confused = `${Buffer.from(JSON.stringify({ alg: 'HS256', kid: 'idp-1' })).toString('base64url')}.${p}.${s}`;
    const cases: [string, Promise<string>, RegExp][] = [
      ['signed by a stranger with the known kid', idpToken({ key: strangerKey }), /signature does not verify/],
      ['unknown kid', idpToken({ key: strangerKey, kid: 'other' }), /no key of the identity provider matches/],
      ['wrong audience', idpToken({ aud: 'someone-else' }), /claim "aud" is not accepted/],
      ['wrong issuer', idpToken({ iss: 'https://evil.test/' }), /claim "iss" is not accepted/],
      ['expired', idpToken({ exp: Math.floor(Date.now() / 1000) - 60 }), /token expired/],
      ['no tenant claim', idpToken({ claims: { 'https://tilecast.dev/tenant': undefined } }), /claims are invalid/],
      ['tenant injection', idpToken({ claims: { 'https://tilecast.dev/tenant': "acme' OR 1=1" } }), /claims are invalid/],
      ['no known scope', idpToken({ claims: { scope: 'openid profile' } }), /claims are invalid/],
      ['alg confusion', Promise.resolve(confused), /signature does not verify/],
    ];
    for (const [name, token, expected] of cases) expect(await reason(await token), name).toMatch(expected);
  });

  it('without a JWKS configured, RS256 is an algorithm that is not accepted', async () => {
    expect(await createTokenService(SECRET).verify(await idpToken()).catch((e: Error) => e.message)).toMatch(/algorithm "RS256" is not accepted \(accepted: HS256\)/);
  });

  it('says so when the identity provider’s keys cannot be fetched', async () => {
    const offline = createTokenService(SECRET, { jwks: { url: 'http://127.0.0.1:9/jwks.json', issuer: ISSUER, audience: AUDIENCE } });
    expect(await offline.verify(await idpToken()).catch((e: Error) => e.message)).toMatch(/keys of the identity provider are unavailable/);
  });
});

describe('rate limiter', () => {
  it('lets a burst through, then the sustained rate, per tenant', () => {
    let now = 0;
    const limiter = createRateLimiter({ perSecond: 2, burst: 3, clock: () => now });
    expect([1, 2, 3, 4].map(() => limiter.take('a').ok)).toEqual([true, true, true, false]);
    expect(limiter.take('b').ok).toBe(true); // another tenant has its own bucket
    expect(limiter.take('a')).toEqual({ ok: false, retryAfterMs: 500 });
    now = 500;
    expect(limiter.take('a').ok).toBe(true);
    expect(limiter.take('a').ok).toBe(false);
  });
});

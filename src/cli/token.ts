/** `tilecast token --tenant T [--scope read|ingest|admin] [--ttl 1h]`: mints a token signed with the configured secret. */
import { parseArgs } from 'node:util';
import { SCOPES, createTokenService, parseTtl, resolveSecret, type Scope } from '../auth/tokens.ts';
import { loadConfig } from '../config/index.ts';

export async function runToken(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: { tenant: { type: 'string' }, scope: { type: 'string', default: 'read' }, ttl: { type: 'string', default: '1h' } },
  });
  if (!values.tenant) throw new Error('--tenant is required');
  if (!SCOPES.includes(values.scope as Scope)) throw new Error(`--scope must be one of ${SCOPES.join(', ')}`);
  const config = loadConfig(process.env);
  const tokens = createTokenService(resolveSecret(config.auth.secret, config.storage.dataDir));
  console.log(await tokens.mint({ tenantId: values.tenant, scope: values.scope as Scope, ttlSeconds: parseTtl(values.ttl) }));
}

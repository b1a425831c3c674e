/** SCHEMA_REGISTRY_URL and SCHEMA_SUBJECT are validated with the rest of the configuration. */
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/index.ts';

const problems = (env: Record<string, string>): string[] => {
  try {
    loadConfig(env);
    return [];
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
};

describe('schema registry configuration', () => {
  it('is off without SCHEMA_REGISTRY_URL', () => {
    expect(loadConfig({}).schemaRegistry).toBeUndefined();
  });

  it('defaults the subject to <KAFKA_TOPIC>-value', () => {
    expect(loadConfig({ SCHEMA_REGISTRY_URL: 'http://r:8081', KAFKA_TOPIC: 'orders' }).schemaRegistry).toEqual({ url: 'http://r:8081', subject: 'orders-value' });
    expect(loadConfig({ SCHEMA_REGISTRY_URL: 'http://r:8081' }).schemaRegistry?.subject).toBe('business.events.raw-value');
    expect(loadConfig({ SCHEMA_REGISTRY_URL: 'http://r:8081', SCHEMA_SUBJECT: 'events' }).schemaRegistry?.subject).toBe('events');
  });

  it('lists a malformed URL together with the other problems', () => {
    const p = problems({ SCHEMA_REGISTRY_URL: 'not a url', PORT: 'x' });
    expect(p.some((x) => x.startsWith('SCHEMA_REGISTRY_URL'))).toBe(true);
    expect(p.some((x) => x.startsWith('PORT'))).toBe(true);
  });

  it('refuses a subject without a registry (the subject would silently be unused)', () => {
    expect(problems({ SCHEMA_SUBJECT: 'events' })[0]).toContain('SCHEMA_REGISTRY_URL is not');
  });
});

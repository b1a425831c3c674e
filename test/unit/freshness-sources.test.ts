import { describe, expect, it } from 'vitest';
import { embeddedSources, kafkaTopicSources } from '../../src/app/sources.ts';
import { createFreshnessTracker } from '../../src/resolvers/freshness.ts';

describe('which sources count for freshness (src/app/sources.ts)', () => {
  const topic = 'business.events.raw';
  it.each([
    ['embedded', 'http', true],
    ['embedded', 'kafka:business.events.raw:0', false],
    ['kafka', 'kafka:business.events.raw:0', true],
    ['kafka', 'kafka:business.events.raw:31', true],
    ['kafka', 'http', false], // an earlier embedded run on the same ClickHouse
    ['kafka', 'kafka:business.events.old:0', false], // a topic the workers no longer consume
    ['kafka', 'kafka:business.events:raw:0', false],
    ['kafka', 'kafka:business.events.raw.v2:0', false],
    ['kafka', 'kafka:business.events.raw:', false],
    ['kafka', 'kafka:business.events.raw:01', false], // not a name a worker writes
  ] as const)('%s: %s → %s', (deployment, source, counts) => {
    const filter = deployment === 'embedded' ? embeddedSources : kafkaTopicSources(topic);
    expect(filter(source)).toBe(counts);
  });
});

describe('freshness tracker', () => {
  const now = 10_000_000;
  it('dataAsOf and the watermark are the oldest among counted sources; retired ones neither hold them back nor bring lastEventAt', () => {
    const f = createFreshnessTracker({ clock: () => now, staleAfterMs: 30_000, countsSource: kafkaTopicSources('t') });
    f.observeProgress({ source: 'http', processedThrough: 1_000, watermark: 500 }); // an earlier embedded run
    f.observeProgress({ source: 'kafka:old:0', processedThrough: 2_000, watermark: 900, lastEventAt: { acme: 3_000_000 } });
    f.observeProgress({ source: 't:0', processedThrough: 3_000, watermark: 1_000 }); // not a source name at all
    expect(f.dataAsOf()).toBe(0); // nothing counted yet: epoch, stale
    f.observeProgress({ source: 'kafka:t:0', processedThrough: now - 2_000, watermark: now - 12_000, lastEventAt: { acme: now - 5_000 } });
    f.observeProgress({ source: 'kafka:t:1', processedThrough: now - 1_000, watermark: now - 11_000 });
    expect([f.dataAsOf(), f.watermark()]).toEqual([now - 2_000, now - 12_000]);
    expect(f.of('acme')).toMatchObject({ dataAsOf: now - 2_000, lastEventAt: now - 5_000, ageMs: 2_000, isStale: false });
  });

  it('a counted source that stops reporting holds dataAsOf back (freshness shows the outage)', () => {
    let clock = now;
    const f = createFreshnessTracker({ clock: () => clock, staleAfterMs: 30_000, countsSource: kafkaTopicSources('t') });
    f.observeProgress({ source: 'kafka:t:0', processedThrough: now, watermark: 0 });
    f.observeProgress({ source: 'kafka:t:1', processedThrough: now, watermark: 0 });
    clock = now + 60_000;
    f.observeProgress({ source: 'kafka:t:1', processedThrough: clock, watermark: 0 }); // partition 0's worker is gone
    expect(f.of('acme')).toMatchObject({ dataAsOf: now, isStale: true });
  });

  it('a progress tick carries the newest event time of the tenants its flush touched', () => {
    const f = createFreshnessTracker({ clock: () => now, staleAfterMs: 30_000 });
    f.observeProgress({ source: 'http', processedThrough: now, watermark: 0, lastEventAt: { acme: now - 9_000, globex: now - 1_000 } });
    f.observeProgress({ source: 'http', processedThrough: now, watermark: 0, lastEventAt: { acme: now - 20_000 } }); // an older late event: no step back
    expect([f.of('acme').lastEventAt, f.of('globex').lastEventAt, f.of('initech').lastEventAt]).toEqual([now - 9_000, now - 1_000, null]);
  });
});

import { describe, expect, it } from 'vitest';
import { advanceIdle, initialWatermark, observeEvent, type WatermarkState } from '../../src/aggregate/watermark.ts';

const o = { allowedLatenessMs: 10_000 };

describe('watermark', () => {
  type Step = ['event', number, number] | ['tick', number];
  const cases: { name: string; steps: Step[]; expected: number }[] = [
    { name: 'starts at the initial value', steps: [], expected: 0 },
    { name: 'follows the newest event minus lateness', steps: [['event', 100_000, 100_000]], expected: 90_000 },
    { name: 'an older event does not move it back', steps: [['event', 100_000, 100_000], ['event', 50_000, 100_001]], expected: 90_000 },
    { name: 'does not follow the clock while events flow', steps: [['event', 100_000, 100_000], ['tick', 105_000]], expected: 90_000 },
    { name: 'follows the clock once idle for the lateness', steps: [['event', 100_000, 100_000], ['tick', 130_000]], expected: 120_000 },
    { name: 'a never-seen source is idle', steps: [['tick', 500_000]], expected: 490_000 },
    { name: 'producer clocks behind: event time governs while active', steps: [['event', 10_000, 200_000], ['tick', 205_000]], expected: 0 },
  ];
  it.each(cases)('$name', ({ steps, expected }) => {
    let s: WatermarkState = initialWatermark();
    for (const step of steps) s = step[0] === 'event' ? observeEvent(s, step[1], step[2], o) : advanceIdle(s, step[1], o);
    expect(s.value).toBe(expected);
  });
});

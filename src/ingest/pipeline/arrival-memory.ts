/**
 * One tenant's counted arrivals as the key index (key-index.ts) keeps them: per key one
 * slot, and per slot an arrival's event time, its fingerprint and the slot of another
 * arrival of the same key (a chain; the verdict does not depend on its order). The slots are columns of typed arrays, so
 * remembering an arrival allocates nothing per event (a map entry aside) and the memory
 * holds no object per arrival for the garbage collector to trace.
 */
import { judgeStep, type Verdict } from './steps.ts';

export interface ArrivalMemory {
  /** Per key, the slot of one of its arrivals; the others chain through `prev`. */
  heads: Map<string, number>;
  timestamps: Float64Array;
  fingerprints: Float64Array;
  /** The next slot of the same key, -1 for none. */
  prev: Int32Array;
  /** Slots in use. */
  used: number;
}

const MIN_SLOTS = 16;

export function createArrivalMemory(slots = MIN_SLOTS): ArrivalMemory {
  const n = Math.max(MIN_SLOTS, slots);
  return { heads: new Map(), timestamps: new Float64Array(n), fingerprints: new Float64Array(n), prev: new Int32Array(n), used: 0 };
}

/** Appends an arrival chained to `prev` (the key's slot so far, -1: none); returns its slot (the caller sets `heads`). */
export function pushArrival(m: ArrivalMemory, timestamp: number, fingerprint: number, prev: number): number {
  if (m.used === m.timestamps.length) {
    const n = m.used * 2;
    const grow = <A extends Float64Array | Int32Array>(a: A, make: (n: number) => A): A => {
      const b = make(n);
      b.set(a);
      return b;
    };
    m.timestamps = grow(m.timestamps, (k) => new Float64Array(k));
    m.fingerprints = grow(m.fingerprints, (k) => new Float64Array(k));
    m.prev = grow(m.prev, (k) => new Int32Array(k));
  }
  const slot = m.used++;
  m.timestamps[slot] = timestamp;
  m.fingerprints[slot] = fingerprint;
  m.prev[slot] = prev;
  return slot;
}

/** Remembers an arrival of `key`. */
export function addArrival(m: ArrivalMemory, key: string, timestamp: number, fingerprint: number): void {
  m.heads.set(key, pushArrival(m, timestamp, fingerprint, m.heads.get(key) ?? -1));
}

/** The verdict so far (`v`) after the remembered arrivals from slot `head` down its chain (steps.ts `judgeStep`). */
export function judgeChain(m: ArrivalMemory, head: number, v: Verdict, fp: number, timestamp: number, horizonMs: number): Verdict {
  for (let s = head; s >= 0 && v !== 'duplicate'; s = m.prev[s]!) v = judgeStep(v, fp, timestamp, m.timestamps[s]!, m.fingerprints[s]!, horizonMs);
  return v;
}

/** A copy holding only the arrivals with an event time from `floor` on. */
export function keptFrom(m: ArrivalMemory, floor: number): ArrivalMemory {
  const out = createArrivalMemory(m.used);
  for (const [key, head] of m.heads) {
    let kept = -1;
    for (let s = head; s >= 0; s = m.prev[s]!) if (m.timestamps[s]! >= floor) kept = pushArrival(out, m.timestamps[s]!, m.fingerprints[s]!, kept);
    if (kept >= 0) out.heads.set(key, kept);
  }
  return out;
}

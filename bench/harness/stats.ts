/** Small statistics for bench figures: percentiles, medians and run-to-run spread. */

export const percentile = (xs: readonly number[], p: number): number => {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
};

export const median = (xs: readonly number[]): number => {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

/** Half the range of `perRound`, relative to `figure` (0.05 = ±5 %); 0 with one round. */
export const spread = (perRound: readonly number[], figure: number): number =>
  perRound.length < 2 || figure === 0 ? 0 : (Math.max(...perRound) - Math.min(...perRound)) / 2 / Math.abs(figure);

/**
 * Runs `fn` for both sides, `rounds` times, alternating which side goes first
 * (A B, B A, A B, …) so that a burst of machine load, or a warm cache left by the side
 * before, falls on both alike.
 */
export async function interleave<T>(rounds: number, fn: (side: 0 | 1, round: number) => Promise<T>): Promise<[T[], T[]]> {
  const out: [T[], T[]] = [[], []];
  for (let r = 0; r < rounds; r++) {
    const order: (0 | 1)[] = r % 2 === 0 ? [0, 1] : [1, 0];
    for (const s of order) out[s].push(await fn(s, r));
  }
  return out;
}

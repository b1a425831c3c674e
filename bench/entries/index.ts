/**
 * The benches `npm run bench` knows, in the order it runs them. To add one: write an entry
 * (a `BenchEntry`, see bench/harness/types.ts and the two here) whose bench file takes
 * `--target DIR` (bench/harness/target.ts) and answers the harness as a side
 * (bench/harness/side.ts), and list it below.
 */
import type { BenchEntry } from '../harness/types.ts';
import { dashboard } from './dashboard.ts';
import { kafka } from './kafka.ts';
import { model } from './model.ts';
import { scaleout } from './scaleout.ts';

export const ENTRIES: readonly BenchEntry[] = [dashboard, kafka, model, scaleout];

/** A model file compiled for a test (throws with every error when it does not compile). */
import { readFileSync } from 'node:fs';
import { compileModel } from '../../src/model/compile.ts';
import type { ModelPlan } from '../../src/model/types.ts';

export function loadPlan(path = 'models/default.yaml'): ModelPlan {
  const r = compileModel(readFileSync(path, 'utf8'));
  if (!r.ok) throw new Error(`${path}: ${JSON.stringify(r.errors)}`);
  return r.plan;
}

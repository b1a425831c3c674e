/**
 * A model checked against the versions storage has published: what refuses a start, and
 * the plan a process runs once it starts (formulas keep the operand versions they were
 * published with). Pure: storage supplies what it recorded (src/storage/definitions.ts).
 */
import { changedDefinitions, definitionOf, type PublishedDefinition } from './definition.ts';
import { operandsOf, pinFormula } from './formula.ts';
import type { FormulaVersion, MetricVersion, ModelPlan, RecordedDefinition } from './types.ts';

/** The pin lookup of a published formula: its recorded operand versions, else the current ones in the file. */
const pinsOf = (plan: ModelPlan, p: PublishedDefinition | undefined) => {
  const pins = p?.pins;
  return pins ? (name: string) => pins[name] ?? plan.metric(name)!.version : undefined;
};

/**
 * Every reason `plan` may not run on storage that published `published`, one message each:
 * a published version whose definition changed (give it a new version), and a published
 * formula whose pinned operand version the file no longer has. Versions not published yet,
 * and published versions the file no longer lists, are fine.
 */
export function publicationProblems(plan: ModelPlan, published: readonly PublishedDefinition[]): string[] {
  const problems = changedDefinitions(plan, published).map((c) => c.message);
  const byId = new Map(published.map((p) => [p.id, p]));
  for (const v of plan.versions) {
    const p = byId.get(v.id);
    if (v.kind !== 'formula' || !p?.pins) continue;
    const pinned = pinFormula(v.expr, pinsOf(plan, p)!);
    const missing = [...new Set(operandsOf(pinned).map((o) => `${o.name}@${o.version}`))].filter((id) => !plan.versions.some((x) => x.id === id));
    if (missing.length === 0) continue;
    problems.push(`metric ${v.name} v${v.version} was published as ${p.definition}, and this model lacks ${missing.join(', ')}: keep ${missing.length > 1 ? 'them' : 'it'} in the file, or give ${v.name} a new version`);
  }
  return problems;
}

/**
 * `plan` as a process runs it on that storage: each published formula evaluates the operand
 * versions it was published with (`gross_revenue@1 - refunds@1` stays so when the file's
 * `refunds` becomes v2), and its definition is the published one. Everything else is `plan`.
 * Call after publicationProblems found nothing.
 */
export function withPublishedPins(plan: ModelPlan, published: readonly PublishedDefinition[]): ModelPlan {
  const byId = new Map(published.map((p) => [p.id, p]));
  const replaced = new Map<string, FormulaVersion>();
  const definitions = new Map<string, RecordedDefinition>();
  for (const v of plan.versions) {
    const p = byId.get(v.id);
    const pin = v.kind === 'formula' ? pinsOf(plan, p) : undefined;
    if (v.kind === 'formula' && pin) {
      const f: FormulaVersion = { ...v, pinned: pinFormula(v.expr, pin) };
      replaced.set(v.id, f);
      definitions.set(v.id, definitionOf(f, pin));
    } else {
      definitions.set(v.id, plan.definitions.get(v.id)!);
    }
  }
  if (replaced.size === 0) return plan;
  const versions: MetricVersion[] = plan.versions.map((v) => replaced.get(v.id) ?? v);
  return {
    ...plan,
    versions,
    definitions,
    metric: (name, version) => {
      const v = plan.metric(name, version);
      return v && (replaced.get(v.id) ?? v);
    },
  };
}

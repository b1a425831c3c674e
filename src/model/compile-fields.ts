/**
 * Fields, event types and dimensions of a model file: names checked, declarations turned
 * into FieldSpecs, the same field name meaning the same thing on every event type.
 */
import { DECIMAL_PATTERN, canonicalDecimal } from '../contracts/decimal.ts';
import type { Broken, FieldDecl, ModelFile } from './file-schema.ts';
import { NAME_PATTERN } from './file-schema.ts';
import type { ModelSource, PathSegment } from './source.ts';
import type { DimensionSpec, EventTypeSpec, FieldSpec, ModelError } from './types.ts';
import { COMMON_FIELDS } from './types.ts';

/** Names a declared field or dimension may not take: the built-in fields (any case) and SeriesInput's fields (currency excepted: it is both). */
const RESERVED = new Set([...COMMON_FIELDS.map((f) => f.toLowerCase()), 'metric', 'version', 'where', 'from', 'to', 'granularity', 'timezone', 'compareto', 'dimension']);
const DIMENSION_TYPES = new Set(['enum', 'string', 'currency', 'boolean']);

export interface FieldsResult {
  commonFields: Map<string, FieldSpec>;
  commonRequired: Set<string>;
  eventTypes: Map<string, EventTypeSpec>;
  /** Every declared field name, with its spec as first declared (types agree everywhere, or it is an error). */
  allFields: Map<string, FieldSpec>;
  dimensions: Map<string, DimensionSpec>;
  /** Entries whose shape was wrong (reported already): a reference to one is not reported again. */
  broken: Broken;
}

export function checkName(name: string, path: PathSegment[], src: ModelSource, errors: ModelError[], what: string): boolean {
  if (!NAME_PATTERN.test(name)) {
    errors.push(src.error(path, `${what} name "${name}" must match ^[a-z][a-z0-9_]*$ (lower case, digits, underscores)`));
    return false;
  }
  return true;
}

function toSpec(name: string, d: FieldDecl, path: PathSegment[], src: ModelSource, errors: ModelError[]): FieldSpec {
  const spec: FieldSpec = { name, type: d.type, required: d.required ?? false, ...(d.description ? { description: d.description } : {}) };
  const decimal = (key: 'min' | 'exclusiveMin', v: string | number | undefined) => {
    if (v === undefined) return;
    const s = typeof v === 'number' ? String(v) : v.trim();
    if (DECIMAL_PATTERN.test(s)) spec[key] = canonicalDecimal(s);
    else errors.push(src.error([...path, key], `${JSON.stringify(v)} is not a decimal with at most 6 fractional digits`));
  };
  switch (d.type) {
    case 'decimal':
      decimal('min', d.min);
      decimal('exclusiveMin', d.exclusiveMin);
      break;
    case 'integer':
      if (d.min !== undefined) spec.minInt = d.min;
      if (d.max !== undefined) spec.maxInt = d.max;
      if (d.min !== undefined && d.max !== undefined && d.min > d.max) errors.push(src.error([...path, 'max'], `max ${d.max} is below min ${d.min}`));
      break;
    case 'string':
      if (d.maxLength !== undefined) spec.maxLength = d.maxLength;
      if (d.pattern !== undefined) {
        try {
          new RegExp(d.pattern);
          spec.pattern = d.pattern;
        } catch (err) {
          errors.push(src.error([...path, 'pattern'], `not a valid regular expression: ${(err as Error).message}`));
        }
      }
      break;
    case 'enum': {
      const seen = new Set<string>();
      d.values.forEach((v, i) => {
        if (seen.has(v)) errors.push(src.error([...path, 'values', i], `value "${v}" is listed twice`));
        seen.add(v);
      });
      spec.values = [...seen];
      break;
    }
  }
  return spec;
}

/** Same meaning (type and constraints) apart from presence and description. */
const sameMeaning = (a: FieldSpec, b: FieldSpec): boolean => {
  const strip = ({ required: _r, description: _d, ...rest }: FieldSpec) => JSON.stringify(rest, Object.keys(rest).sort());
  return strip(a) === strip(b);
};

export function compileFields(file: ModelFile, src: ModelSource, errors: ModelError[], broken: Broken): FieldsResult {
  const declare = (name: string, d: FieldDecl, path: PathSegment[]): FieldSpec | null => {
    if (!checkName(name, path, src, errors, 'field')) return null;
    if (RESERVED.has(name.toLowerCase()) && name !== 'currency') {
      errors.push(src.error(path, `field name "${name}" is reserved (a built-in event field or a SeriesInput field)`));
      return null;
    }
    return toSpec(name, d, path, src, errors);
  };

  const commonFields = new Map<string, FieldSpec>();
  const commonRequired = new Set<string>();
  for (const [name, d] of Object.entries(file.fields)) {
    const spec = declare(name, d, ['fields', name]);
    if (!spec) continue;
    commonFields.set(name, spec);
    if (spec.required) commonRequired.add(name);
  }

  const allFields = new Map<string, FieldSpec>(commonFields);
  const firstAt = new Map<string, string>([...commonFields.keys()].map((n) => [n, `fields.${n}`]));
  const eventTypes = new Map<string, EventTypeSpec>();
  for (const [typeName, decl] of Object.entries(file.events)) {
    if (!checkName(typeName, ['events', typeName], src, errors, 'event type')) continue;
    const fields = new Map<string, FieldSpec>();
    const requiredHere = new Set(decl?.required ?? []);
    (decl?.required ?? []).forEach((f, i) => {
      if (!commonFields.has(f) && !broken.fields.has(f)) errors.push(src.error(['events', typeName, 'required', i], `"${f}" is not a common field (declared under fields:); declare the type's own fields with required: true`));
    });
    for (const [name, spec] of commonFields) fields.set(name, { ...spec, required: spec.required || requiredHere.has(name) });
    for (const [name, d] of Object.entries(decl?.fields ?? {})) {
      const path = ['events', typeName, 'fields', name];
      if (commonFields.has(name)) {
        errors.push(src.error(path, `"${name}" is already a common field (fields.${name}); to require it for ${typeName}, list it under events.${typeName}.required`));
        continue;
      }
      const spec = declare(name, d, path);
      if (!spec) continue;
      const earlier = allFields.get(name);
      if (earlier && !sameMeaning(earlier, spec)) {
        errors.push(src.error(path, `field "${name}" is declared differently at ${firstAt.get(name)}: a field name means one type and one set of constraints on every event type`));
        continue;
      }
      if (!earlier) {
        allFields.set(name, spec);
        firstAt.set(name, path.join('.'));
      }
      fields.set(name, spec);
    }
    eventTypes.set(typeName, { name: typeName, ...(decl?.description ? { description: decl.description } : {}), fields });
  }

  const dimensions = new Map<string, DimensionSpec>();
  for (const [name, d] of Object.entries(file.dimensions)) {
    const path = ['dimensions', name];
    const field = allFields.get(name);
    if (!field) {
      if (!broken.fields.has(name)) errors.push(src.error(path, `dimension "${name}" has no field of that name: declare it under fields: or an event type's fields:`));
      continue;
    }
    if (!DIMENSION_TYPES.has(field.type)) {
      errors.push(src.error(path, `dimension "${name}" reads a ${field.type} field: dimensions are enum, string, currency or boolean fields`));
      continue;
    }
    dimensions.set(name, {
      name,
      type: field.type,
      maxValuesPerTenant: d.maxValuesPerTenant,
      rejectOverBudget: field.type === 'currency',
      ...(d.description ? { description: d.description } : {}),
    });
  }
  return { commonFields, commonRequired, eventTypes, allFields, dimensions, broken };
}

/**
 * An event's declared fields outside the validator: Event v1's two top-level columns
 * taken from them (the event log's `currency` and `amount`, the windows' currency slice),
 * and the text form the event log keeps them in (`events.fields`, Map(String, String);
 * migrations/0009) with its way back to typed values.
 *
 * Text form: strings, enums, currencies and decimals (canonical already) as they are,
 * integers as decimal text, booleans as `true`/`false`. Typed back by the field's declared
 * type, so an event read from the log has the same `fields` as the live one: the same
 * `matches`, `dimsOf` and `valueOf` answers (where.ts compares integers and booleans by
 * value and type). A field the model no longer declares comes back as its text.
 */
import { canonicalDecimal } from '../contracts/decimal.ts';
import type { FieldType, FieldValue, ModelPlan } from './types.ts';

/** Event v1's column names: the declared fields they are taken from carry the same names. */
const CURRENCY = 'currency';
const AMOUNT = 'amount';

export interface EventColumns {
  /** The `currency` field when the model declares it as a currency, else ''. */
  currency: string;
  /** The `amount` field when the model declares it as a decimal. */
  amount?: string;
}

export interface EventFieldCodec {
  /** Event v1's top-level columns of an event's declared fields. */
  columns(fields: Readonly<Record<string, FieldValue>>): EventColumns;
  /** One field value in the event log's text form (the log's `fields` map holds these). */
  textOf(value: FieldValue): string;
  /** Text form → typed values, by each field's declared type. */
  fromText(text: Readonly<Record<string, string>>): Record<string, FieldValue>;
}

export const fieldText = (v: FieldValue): string => (typeof v === 'string' ? v : String(v));

/** Whether a declared field is one of the event's Event v1 columns (its value is there already). */
export const isColumn = (name: string, value: FieldValue, c: EventColumns): boolean =>
  (name === CURRENCY && value === c.currency) || (name === AMOUNT && value === c.amount);

/**
 * The fields a row logged before the event log kept them (no `fields` map) stands for:
 * Event v1's, from its columns (rows of the default model, whose fields these are).
 */
export function fieldsOfColumns(currency: string, amount: string | null): Record<string, FieldValue> {
  const fields: Record<string, FieldValue> = {};
  if (amount !== null) fields[AMOUNT] = canonicalDecimal(amount);
  if (currency !== '') fields[CURRENCY] = currency;
  return fields;
}

function typed(type: FieldType | undefined, text: string): FieldValue {
  switch (type) {
    case 'integer': {
      const n = Number(text);
      return Number.isSafeInteger(n) && /^-?\d+$/.test(text) ? n : text;
    }
    case 'boolean':
      return text === 'true' ? true : text === 'false' ? false : text;
    default:
      return text;
  }
}

const codecs = new WeakMap<object, EventFieldCodec>();

/** The codec of a plan (built once per plan: a field name has one type on every event type). */
export function fieldCodec(plan: Pick<ModelPlan, 'eventTypes'>): EventFieldCodec {
  const cached = codecs.get(plan);
  if (cached) return cached;
  const types = new Map<string, FieldType>();
  for (const t of plan.eventTypes.values()) for (const f of t.fields.values()) if (!types.has(f.name)) types.set(f.name, f.type);
  const hasCurrency = types.get(CURRENCY) === 'currency';
  const hasAmount = types.get(AMOUNT) === 'decimal';
  const codec: EventFieldCodec = {
    columns(fields) {
      const currency = hasCurrency ? fields[CURRENCY] : undefined;
      const amount = hasAmount ? fields[AMOUNT] : undefined;
      const c: EventColumns = { currency: typeof currency === 'string' ? currency : '' };
      if (typeof amount === 'string') c.amount = amount;
      return c;
    },
    textOf: fieldText,
    fromText(text) {
      const out: Record<string, FieldValue> = {};
      for (const k in text) out[k] = typed(types.get(k), text[k]!);
      return out;
    },
  };
  codecs.set(plan, codec);
  return codec;
}

/**
 * The in-memory representation of Delta values, shared by the reader, the
 * writer and the CLI, and conversion to the canonical JSON form of
 * `shared/fixtures/delta/INDEX.md`:
 *
 *   string -> string            long -> bigint          integer/short/byte -> number
 *   float/double -> number      boolean -> boolean      binary -> Uint8Array
 *   decimal -> exact string with the type's scale ("10.000")
 *   date -> number of days since 1970-01-01
 *   timestamp, timestamp_ntz -> bigint microseconds since the epoch (UTC)
 *   struct -> object in field order; array -> array; map -> [key, value][]
 *   null -> null
 */
import type { DataType, StructType } from './schema.ts';
import { parseDecimal, type Value } from '../parquet/data-model.ts';

export { parseDecimal } from '../parquet/data-model.ts';

/** A value of a table cell (see parquet/data-model.ts). */
export type DeltaValue = Value;

const DAY_MS = 86_400_000;

/** Date.UTC without its mapping of years 0-99 to 1900-1999. */
function utcMillis(year: number, month: number, day: number, h = 0, mi = 0, s = 0): number {
  const d = new Date(0);
  d.setUTCFullYear(year, month, day);
  d.setUTCHours(h, mi, s, 0);
  return d.getTime();
}

export function formatDate(days: number): string {
  return new Date(days * DAY_MS).toISOString().slice(0, 10);
}

export function parseDate(s: string): number {
  const m = /^(-?\d{4,})-(\d{2})-(\d{2})$/.exec(s.trim());
  if (!m) throw new Error(`invalid date "${s}"`);
  return Math.floor(utcMillis(Number(m[1]), Number(m[2]) - 1, Number(m[3])) / DAY_MS);
}

/** "YYYY-MM-DDTHH:MM:SS.ffffff" (no zone suffix) for microseconds since the epoch. */
export function formatTimestampMicros(micros: bigint): string {
  const ms = micros >= 0n ? micros / 1000n : -((-micros + 999n) / 1000n);
  const frac = Number(micros - ms * 1000n);
  const iso = new Date(Number(ms)).toISOString(); // YYYY-MM-DDTHH:MM:SS.mmmZ
  return `${iso.slice(0, 23)}${String(frac).padStart(3, '0')}`;
}

/**
 * Parse a timestamp as written in partition values or stats:
 * "2021-09-08 11:11:11", "2021-09-08 11:11:11.123456", "2021-09-08T11:11:11.123Z",
 * "...+02:00". Values without a zone are taken as UTC.
 */
export function parseTimestampMicros(s: string): bigint {
  const m = /^(-?\d{4,})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?\s*(Z|[+-]\d{2}:?\d{2})?$/.exec(
    s.trim(),
  );
  if (!m) throw new Error(`invalid timestamp "${s}"`);
  const ms = utcMillis(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6] ?? 0));
  const frac = (m[7] ?? '').padEnd(6, '0').slice(0, 6);
  let micros = BigInt(ms) * 1000n + BigInt(frac === '' ? 0 : Number(frac));
  const zone = m[8];
  if (zone && zone !== 'Z') {
    const sign = zone[0] === '-' ? -1 : 1;
    const hh = Number(zone.slice(1, 3));
    const mm = Number(zone.slice(-2));
    micros -= BigInt(sign * (hh * 60 + mm) * 60) * 1_000_000n;
  }
  return micros;
}

/** Exact decimal string of an unscaled integer with `scale` fraction digits. */
export function formatDecimal(unscaled: bigint, scale: number): string {
  const neg = unscaled < 0n;
  let digits = (neg ? -unscaled : unscaled).toString();
  if (scale > 0) {
    digits = digits.padStart(scale + 1, '0');
    digits = `${digits.slice(0, -scale)}.${digits.slice(-scale)}`;
  }
  return neg ? `-${digits}` : digits;
}

/** Unscaled decimal from what a Parquet decoder returns (INT32, INT64 or big-endian two's complement bytes). */
export function unscaledFromRaw(raw: unknown): bigint {
  if (typeof raw === 'bigint') return raw;
  if (typeof raw === 'number') return BigInt(raw);
  if (raw instanceof Uint8Array) {
    if (raw.length === 0) return 0n;
    let v = 0n;
    for (const b of raw) v = (v << 8n) | BigInt(b);
    if (raw[0] & 0x80) v -= 1n << BigInt(raw.length * 8);
    return v;
  }
  throw new Error(`cannot read a decimal from ${typeof raw}`);
}

export function toHex(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += b.toString(16).padStart(2, '0');
  return s;
}

const utf8 = new TextDecoder();
const utf8strict = new TextDecoder('utf-8', { fatal: true });
const utf8enc = new TextEncoder();

/** Typed value of a partition value string (PROTOCOL.md "Partition Value Serialization"). */
export function parsePartitionValue(s: string | null | undefined, type: DataType): DeltaValue {
  // "An empty string for any type translates to a null partition value."
  if (s === null || s === undefined || s === '') return null;
  if (type.kind === 'decimal') return formatDecimal(parseDecimal(s, type.scale), type.scale);
  if (type.kind !== 'primitive') throw new Error(`partition column of non-primitive type`);
  switch (type.name) {
    case 'string':
      return s;
    case 'long':
      return BigInt(s);
    case 'integer':
    case 'short':
    case 'byte':
      return Number.parseInt(s, 10);
    case 'float':
    case 'double':
      return Number(s);
    case 'boolean':
      return s.toLowerCase() === 'true';
    case 'binary':
      return utf8enc.encode(s);
    case 'date':
      return parseDate(s);
    case 'timestamp':
    case 'timestamp_ntz':
      return parseTimestampMicros(s);
  }
}

/** Partition value string for a typed value (null stays null). */
export function serializePartitionValue(v: DeltaValue, type: DataType): string | null {
  if (v === null || v === undefined) return null;
  // An empty string reads as null (PROTOCOL.md), so empty text and bytes are written as null, as Spark does.
  if (v === '' || (v instanceof Uint8Array && v.byteLength === 0)) return null;
  if (type.kind === 'decimal') {
    return typeof v === 'string' ? formatDecimal(parseDecimal(v, type.scale), type.scale) : String(v);
  }
  if (type.kind !== 'primitive') throw new Error('partition column of non-primitive type');
  switch (type.name) {
    case 'binary': {
      // Spark and delta-rs store binary partition values as text; only bytes
      // that are valid UTF-8 survive that round trip, so refuse the others.
      if (!(v instanceof Uint8Array)) return String(v);
      try {
        return utf8strict.decode(v);
      } catch {
        throw new Error(
          `binary partition value ${toHex(v)} is not valid UTF-8 and cannot be stored as a partition value`,
        );
      }
    }
    case 'date':
      return typeof v === 'number' ? formatDate(v) : String(v);
    case 'timestamp':
    case 'timestamp_ntz': {
      if (typeof v !== 'bigint') return String(v);
      const s = formatTimestampMicros(v).replace('T', ' ');
      return s.endsWith('.000000') ? s.slice(0, -7) : s;
    }
    default:
      return String(v);
  }
}

/**
 * Map a value decoded from Parquet onto the Delta type (lossless widening
 * only: int->long, float->double, bytes->string...). Missing becomes null.
 */
export function coerceValue(raw: unknown, type: DataType): DeltaValue {
  if (raw === null || raw === undefined) return null;
  switch (type.kind) {
    case 'decimal':
      return formatDecimal(unscaledFromRaw(raw), type.scale);
    case 'struct': {
      const o = raw as Record<string, unknown>;
      const out: Record<string, DeltaValue> = {};
      for (const f of type.fields) out[f.name] = coerceValue(o[f.name], f.type);
      return out;
    }
    case 'array':
      return Array.from(raw as ArrayLike<unknown>, (e) => coerceValue(e, type.elementType));
    case 'map': {
      // [key, value] pairs (read.ts), a Map, {key, value} entries, or an object keyed by text
      let entries: Array<[unknown, unknown]>;
      if (raw instanceof Map) entries = [...raw.entries()];
      else if (Array.isArray(raw)) entries = raw.map((e) => (Array.isArray(e) ? [e[0], e[1]] : [e.key, e.value]));
      else entries = Object.entries(raw as Record<string, unknown>);
      return entries.map(([k, v]) => [
        typeof k === 'string' && !(type.keyType.kind === 'primitive' && type.keyType.name === 'string')
          ? parsePartitionValue(k, type.keyType)
          : coerceValue(k, type.keyType),
        coerceValue(v, type.valueType),
      ]);
    }
    case 'primitive':
      switch (type.name) {
        case 'string':
          return raw instanceof Uint8Array ? utf8.decode(raw) : String(raw);
        case 'long':
          return typeof raw === 'bigint' ? raw : BigInt(raw as number);
        case 'integer':
        case 'short':
        case 'byte':
        case 'float':
        case 'double':
          return Number(raw);
        case 'boolean':
          return Boolean(raw);
        case 'binary':
          return raw instanceof Uint8Array ? raw : utf8enc.encode(String(raw));
        case 'date':
          return raw instanceof Date ? Math.floor(raw.getTime() / DAY_MS) : Number(raw);
        case 'timestamp':
        case 'timestamp_ntz':
          return typeof raw === 'bigint'
            ? raw
            : raw instanceof Date
              ? BigInt(raw.getTime()) * 1000n
              : BigInt(raw as number);
      }
  }
}

/** Canonical JSON text of a value (INDEX.md form). */
export function canonicalJson(v: DeltaValue, type: DataType): string {
  if (v === null) return 'null';
  switch (type.kind) {
    case 'decimal':
      return JSON.stringify(v);
    case 'struct': {
      const o = v as Record<string, DeltaValue>;
      return `{${type.fields.map((f) => `${JSON.stringify(f.name)}:${canonicalJson(o[f.name] ?? null, f.type)}`).join(',')}}`;
    }
    case 'array':
      return `[${(v as DeltaValue[]).map((e) => canonicalJson(e, type.elementType)).join(',')}]`;
    case 'map': {
      const entries = (v as Array<[DeltaValue, DeltaValue]>).map(
        ([k, val]) => [canonicalJson(k, type.keyType), canonicalJson(val, type.valueType)] as const,
      );
      entries.sort((a, b) => (sortKey(a[0]) < sortKey(b[0]) ? -1 : sortKey(a[0]) > sortKey(b[0]) ? 1 : 0));
      return `[${entries.map(([k, val]) => `[${k},${val}]`).join(',')}]`;
    }
    case 'primitive':
      switch (type.name) {
        case 'long':
          return (v as bigint).toString();
        case 'float':
        case 'double': {
          const n = v as number;
          return Number.isFinite(n) ? JSON.stringify(n) : JSON.stringify(String(n));
        }
        case 'binary':
          return JSON.stringify(toHex(v as Uint8Array));
        case 'date':
          return JSON.stringify(formatDate(v as number));
        case 'timestamp':
          return JSON.stringify(`${formatTimestampMicros(v as bigint)}Z`);
        case 'timestamp_ntz':
          return JSON.stringify(formatTimestampMicros(v as bigint));
        default:
          return JSON.stringify(v);
      }
  }
}

function sortKey(s: string): string {
  // keys compare by their natural value where JSON text would mis-order numbers
  return s;
}

export function canonicalRow(row: Record<string, DeltaValue>, schema: StructType): string {
  return canonicalJson(row, schema);
}

/** Plain JSON-able form for CSV/table output (bigint -> string, bytes -> hex, dates formatted). */
export function displayValue(v: DeltaValue, type: DataType): string {
  if (v === null) return '';
  if (type.kind === 'primitive') {
    switch (type.name) {
      case 'string':
        return v as string;
      case 'binary':
        return toHex(v as Uint8Array);
      case 'date':
        return formatDate(v as number);
      case 'timestamp':
        return `${formatTimestampMicros(v as bigint)}Z`;
      case 'timestamp_ntz':
        return formatTimestampMicros(v as bigint);
      default:
        return String(v);
    }
  }
  if (type.kind === 'decimal') return v as string;
  return canonicalJson(v, type);
}

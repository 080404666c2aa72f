/**
 * File statistics for `add.stats` (PROTOCOL.md "Per-file Statistics"):
 * numRecords, and per leaf column (nested inside structs) nullCount, minValues
 * and maxValues, for the first `delta.dataSkippingNumIndexedCols` (default 32)
 * leaf columns. Bounds are always valid for skipping:
 * - strings compare by code point (UTF-8 byte order, what readers use) and are
 *   truncated to 32 characters: the min prefix stays a lower bound; the max
 *   gets U+10FFFF appended so it stays an upper bound, or is omitted when that
 *   is impossible;
 * - timestamps are written with millisecond precision, min rounded down and
 *   max rounded up;
 * - floats with NaN get no min/max; booleans, binary, arrays and maps get
 *   only nullCount (or nothing), as other writers do.
 */
import { compareCodePoints } from '../storage/object-store.ts';
import type { DataType, StructType } from './schema.ts';
import { formatDate, formatDecimal, formatTimestampMicros, parseDecimal, type DeltaValue } from './values.ts';

/** Unscaled value of a decimal given as exact string, bigint (whole units) or number. */
function unscaled(v: DeltaValue, scale: number): bigint {
  if (typeof v === 'bigint') return v * 10n ** BigInt(scale);
  return parseDecimal(String(v), scale);
}

export const STRING_PREFIX_LENGTH = 32;
const MAX_CHAR = '\u{10FFFF}';

export interface FileStats {
  numRecords: number;
  minValues: Record<string, unknown>;
  maxValues: Record<string, unknown>;
  nullCount: Record<string, unknown>;
}

export interface StatsOptions {
  numIndexedCols?: number;
}

/** Stats of one data file given its columns (partition columns excluded by the caller). */
export function computeStats(
  schema: StructType,
  columns: Record<string, ArrayLike<DeltaValue>>,
  numRows: number,
  options: StatsOptions = {},
): FileStats {
  const stats: FileStats = { numRecords: numRows, minValues: {}, maxValues: {}, nullCount: {} };
  let budget = options.numIndexedCols ?? 32;
  const visit = (
    type: StructType,
    getCol: (name: string) => ArrayLike<DeltaValue> | undefined,
    min: Record<string, unknown>,
    max: Record<string, unknown>,
    nulls: Record<string, unknown>,
  ) => {
    for (const f of type.fields) {
      if (budget === 0) return;
      const col = getCol(f.name);
      if (f.type.kind === 'struct') {
        const st = f.type;
        const sub = {
          min: {} as Record<string, unknown>,
          max: {} as Record<string, unknown>,
          nulls: {} as Record<string, unknown>,
        };
        visit(
          st,
          (name) => {
            if (!col) return undefined;
            const out = new Array<DeltaValue>(col.length);
            for (let i = 0; i < col.length; i++) {
              const o = col[i] as Record<string, DeltaValue> | null;
              out[i] = o ? (o[name] ?? null) : null;
            }
            return out;
          },
          sub.min,
          sub.max,
          sub.nulls,
        );
        if (Object.keys(sub.min).length) min[f.name] = sub.min;
        if (Object.keys(sub.max).length) max[f.name] = sub.max;
        if (Object.keys(sub.nulls).length) nulls[f.name] = sub.nulls;
        continue;
      }
      budget--;
      const s = columnStats(f.type, col, numRows);
      nulls[f.name] = s.nullCount;
      if (s.min !== undefined) min[f.name] = s.min;
      if (s.max !== undefined) max[f.name] = s.max;
    }
  };
  visit(schema, (name) => columns[name], stats.minValues, stats.maxValues, stats.nullCount);
  return stats;
}

interface ColumnStats {
  nullCount: number;
  min?: unknown;
  max?: unknown;
}

export function columnStats(type: DataType, col: ArrayLike<DeltaValue> | undefined, numRows: number): ColumnStats {
  if (!col) return { nullCount: numRows };
  let nullCount = 0;
  let lo: DeltaValue = null;
  let hi: DeltaValue = null;
  let poisoned = false; // NaN seen: no bounds
  const cmp = comparator(type);
  for (let i = 0; i < col.length; i++) {
    const v = col[i];
    if (v === null || v === undefined) {
      nullCount++;
      continue;
    }
    if (!cmp || poisoned) continue;
    if (typeof v === 'number' && Number.isNaN(v)) {
      poisoned = true;
      continue;
    }
    if (lo === null || cmp(v, lo) < 0) lo = v;
    if (hi === null || cmp(v, hi) > 0) hi = v;
  }
  if (!cmp || poisoned || lo === null || hi === null) return { nullCount };
  return { nullCount, min: encodeBound(type, lo, 'min'), max: encodeBound(type, hi, 'max') };
}

function comparator(type: DataType): ((a: DeltaValue, b: DeltaValue) => number) | null {
  if (type.kind === 'decimal') {
    return (a, b) => {
      const x = unscaled(a, type.scale),
        y = unscaled(b, type.scale);
      return x < y ? -1 : x > y ? 1 : 0;
    };
  }
  if (type.kind !== 'primitive') return null;
  switch (type.name) {
    case 'string':
      return (a, b) => compareCodePoints(a as string, b as string);
    case 'long':
    case 'timestamp':
    case 'timestamp_ntz':
    case 'integer':
    case 'short':
    case 'byte':
    case 'float':
    case 'double':
    case 'date':
      return (a, b) => ((a as number) < (b as number) ? -1 : (a as number) > (b as number) ? 1 : 0);
    default:
      return null; // boolean, binary: no min/max
  }
}

function encodeBound(type: DataType, v: DeltaValue, which: 'min' | 'max'): unknown {
  if (type.kind === 'decimal') return new RawJson(formatDecimal(unscaled(v, type.scale), type.scale));
  if (type.kind !== 'primitive') return undefined;
  switch (type.name) {
    case 'string':
      return truncateString(v as string, which);
    case 'long':
      return new RawJson((v as bigint).toString());
    case 'date':
      return formatDate(v as number);
    case 'timestamp':
    case 'timestamp_ntz': {
      const micros = v as bigint;
      let ms = micros >= 0n ? micros / 1000n : -((-micros + 999n) / 1000n);
      if (which === 'max' && ms * 1000n < micros) ms += 1n;
      const s = formatTimestampMicros(ms * 1000n).slice(0, 23);
      return type.name === 'timestamp' ? `${s}Z` : s;
    }
    default:
      return v;
  }
}

/** Truncate a string bound to STRING_PREFIX_LENGTH code points, keeping it a valid bound (undefined: no bound). */
export function truncateString(s: string, which: 'min' | 'max'): string | undefined {
  const cps = Array.from(s);
  if (cps.length <= STRING_PREFIX_LENGTH) return s;
  const prefix = cps.slice(0, STRING_PREFIX_LENGTH).join('');
  if (which === 'min') return prefix;
  const bound = prefix + MAX_CHAR;
  return compareCodePoints(bound, s) >= 0 ? bound : undefined;
}

/** A JSON fragment emitted verbatim (exact longs and decimals). */
export class RawJson {
  readonly text: string;
  constructor(text: string) {
    this.text = text;
  }
}

/** Serialise stats to the `add.stats` JSON string, keeping exact numbers. */
export function statsToJson(stats: FileStats): string {
  return toJson(stats);
}

function toJson(v: unknown): string {
  if (v instanceof RawJson) return v.text;
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'number') return Number.isFinite(v) ? JSON.stringify(v) : 'null';
  if (typeof v === 'object') {
    return `{${Object.entries(v as Record<string, unknown>)
      .filter(([, x]) => x !== undefined)
      .map(([k, x]) => `${JSON.stringify(k)}:${toJson(x)}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}

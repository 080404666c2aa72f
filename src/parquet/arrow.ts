/**
 * Delta values -> Apache Arrow data, built directly into typed buffers
 * (apache-arrow's generic builders are several times slower).
 * Columns hold values in the representation of `delta/values.ts`.
 */
import * as arrow from 'apache-arrow';
import { isUtf8 } from 'node:buffer';
import type {
  ArrayType,
  DataType,
  DecimalType,
  MapType,
  PrimitiveType,
  StructField,
  StructType,
} from './data-model.ts';
import { parseDecimal, type Value as DeltaValue } from './data-model.ts';
import { ValueError } from './value-error.ts';

export function arrowType(t: DataType): arrow.DataType {
  switch (t.kind) {
    case 'decimal':
      return new arrow.Decimal(t.scale, t.precision, 128);
    case 'struct':
      return new arrow.Struct(t.fields.map(arrowField));
    case 'array':
      return new arrow.List(new arrow.Field('element', arrowType(t.elementType), t.containsNull));
    case 'map':
      return new arrow.Map_(
        new arrow.Field(
          'key_value',
          new arrow.Struct<{ key: arrow.DataType; value: arrow.DataType }>([
            new arrow.Field('key', arrowType(t.keyType), false),
            new arrow.Field('value', arrowType(t.valueType), t.valueContainsNull),
          ]),
          false,
        ),
      );
    case 'primitive':
      switch (t.name) {
        case 'string':
          return new arrow.Utf8();
        case 'long':
          return new arrow.Int64();
        case 'integer':
          return new arrow.Int32();
        case 'short':
          return new arrow.Int16();
        case 'byte':
          return new arrow.Int8();
        case 'float':
          return new arrow.Float32();
        case 'double':
          return new arrow.Float64();
        case 'boolean':
          return new arrow.Bool();
        case 'binary':
          return new arrow.Binary();
        case 'date':
          return new arrow.DateDay();
        case 'timestamp':
          return new arrow.TimestampMicrosecond('UTC');
        case 'timestamp_ntz':
          return new arrow.TimestampMicrosecond();
      }
  }
}

export function arrowField(f: StructField): arrow.Field {
  return new arrow.Field(f.name, arrowType(f.type), f.nullable);
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/** The top-level column of a value path ("a.b[].key" -> "a"). */
const columnOf = (path: string): string => path.split(/[.[]/)[0];

/** Validity bitmap and null count; a null where `nullable` is false is a ValueError. */
function validity(
  values: ArrayLike<DeltaValue>,
  n: number,
  nullable: boolean,
  path: string,
): { nullBitmap: Uint8Array | undefined; nullCount: number } {
  let nullCount = 0;
  const bitmap = new Uint8Array((n + 7) >> 3);
  for (let i = 0; i < n; i++) {
    if (values[i] === null || values[i] === undefined) {
      if (!nullable) nullError(path, i);
      nullCount++;
    } else bitmap[i >> 3] |= 1 << (i & 7);
  }
  return { nullBitmap: nullCount === 0 ? undefined : bitmap, nullCount };
}

/** A null where the type forbids it: names the row for a top-level column, the path for a nested one. */
function nullError(path: string, i: number): never {
  const column = columnOf(path);
  const where = path === column ? `row ${i} is null` : 'a value is null';
  throw new ValueError(`column ${path} is not nullable but ${where}`, column);
}

function typeError(t: DataType, v: unknown, path: string): never {
  throw new ValueError(
    `column ${path}: value ${typeof v === 'bigint' ? `${v}n` : JSON.stringify(v)?.slice(0, 80)} does not fit type ${JSON.stringify(t)}`,
    columnOf(path),
  );
}

/** A struct value is a plain object: not an array, bytes or a primitive. */
const isRecord = (v: DeltaValue): v is Record<string, DeltaValue> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);

/** What the Data of every column carries besides its values: Arrow type, length and validity. */
interface ColumnBase {
  readonly type: arrow.DataType;
  readonly length: number;
  readonly nullCount: number;
  readonly nullBitmap: Uint8Array | undefined;
}

type Values = ArrayLike<DeltaValue>;

/**
 * Build Arrow data for one column of `n` values. `path` names the column in errors.
 * A value that does not fit `t`, or a null where `nullable` or a nested type forbids it, is a ValueError.
 * Each kind of type has its builder below: one pass over the values into buffers sized up front.
 */
export function buildData(t: DataType, values: Values, path: string, nullable = true): arrow.Data {
  const n = values.length;
  const { nullBitmap, nullCount } = validity(values, n, nullable, path);
  const base: ColumnBase = { type: arrowType(t), length: n, nullCount, nullBitmap };
  switch (t.kind) {
    case 'decimal':
      return decimalData(t, values, path, base);
    case 'struct':
      return structData(t, values, path, base);
    case 'array':
      return listData(t, values, path, base);
    case 'map':
      return mapData(t, values, path, base);
    case 'primitive':
      switch (t.name) {
        case 'string':
        case 'binary':
          return bytesData(t, values, path, base);
        case 'long':
        case 'timestamp':
        case 'timestamp_ntz':
          return int64Data(t, values, path, base);
        case 'integer':
        case 'short':
        case 'byte':
        case 'date':
          return intData(t, values, path, base);
        case 'float':
        case 'double':
          return floatData(t, values, path, base);
        case 'boolean':
          return booleanData(t, values, path, base);
      }
  }
}

/** 128-bit two's complement unscaled values, four little-endian 32-bit words each. */
function decimalData(t: DecimalType, values: Values, path: string, base: ColumnBase): arrow.Data {
  const n = base.length;
  const data = new Uint32Array(n * 4);
  for (let i = 0; i < n; i++) {
    const v = values[i];
    if (v === null || v === undefined) continue;
    let u: bigint;
    try {
      u =
        typeof v === 'string'
          ? parseDecimal(v, t.scale)
          : typeof v === 'bigint'
            ? v * 10n ** BigInt(t.scale)
            : parseDecimal(String(v), t.scale);
    } catch {
      typeError(t, v, path);
    }
    const limit = 10n ** BigInt(t.precision);
    if (u >= limit || u <= -limit) typeError(t, v, path);
    let x = BigInt.asUintN(128, u);
    for (let w = 0; w < 4; w++) {
      data[i * 4 + w] = Number(x & 0xffffffffn);
      x >>= 32n;
    }
  }
  return arrow.makeData({ ...base, type: base.type as arrow.Decimal, data });
}

/** One child column per field, built from the fields of the struct values. */
function structData(t: StructType, values: Values, path: string, base: ColumnBase): arrow.Data {
  const n = base.length;
  // Fields of a null struct are null whatever their nullability; required fields are checked where it is not.
  const cols = t.fields.map(() => new Array<DeltaValue>(n).fill(null));
  for (let i = 0; i < n; i++) {
    const o = values[i];
    if (o === null || o === undefined) continue;
    if (!isRecord(o)) typeError(t, o, path);
    for (let j = 0; j < cols.length; j++) {
      const f = t.fields[j];
      const v = o[f.name] ?? null;
      if (v === null && !f.nullable) nullError(`${path}.${f.name}`, i);
      cols[j][i] = v;
    }
  }
  const children = t.fields.map((f, j) => buildData(f.type, cols[j], `${path}.${f.name}`));
  return arrow.makeData({ ...base, type: base.type as arrow.Struct, children });
}

/** Offsets into one child column holding the elements of every list, in order. */
function listData(t: ArrayType, values: Values, path: string, base: ColumnBase): arrow.Data {
  const n = base.length;
  const offsets = new Int32Array(n + 1);
  const flat: DeltaValue[] = [];
  for (let i = 0; i < n; i++) {
    const v = values[i];
    if (v !== null && v !== undefined) {
      if (!Array.isArray(v)) typeError(t, v, path);
      for (const e of v) flat.push(e);
    }
    offsets[i + 1] = flat.length;
  }
  return arrow.makeData({
    ...base,
    type: base.type as arrow.List,
    valueOffsets: offsets,
    child: buildData(t.elementType, flat, `${path}[]`, t.containsNull),
  });
}

/** Offsets into one child column of key/value entries; a map value is [key, value] pairs or a plain object. */
function mapData(t: MapType, values: Values, path: string, base: ColumnBase): arrow.Data {
  const n = base.length;
  const offsets = new Int32Array(n + 1);
  const keys: DeltaValue[] = [];
  const vals: DeltaValue[] = [];
  for (let i = 0; i < n; i++) {
    const v = values[i];
    if (v !== null && v !== undefined) {
      const entries: Array<[DeltaValue, DeltaValue]> = Array.isArray(v)
        ? (v as Array<[DeltaValue, DeltaValue]>)
        : Object.entries(v as Record<string, DeltaValue>);
      for (const [k, val] of entries) {
        keys.push(k);
        vals.push(val);
      }
    }
    offsets[i + 1] = keys.length;
  }
  const entryType = (base.type as arrow.Map_).children[0].type as arrow.Struct;
  const entries = arrow.makeData({
    type: entryType,
    length: keys.length,
    nullCount: 0,
    children: [
      buildData(t.keyType, keys, `${path}.key`, false),
      buildData(t.valueType, vals, `${path}.value`, t.valueContainsNull),
    ],
  });
  return arrow.makeData({ ...base, type: base.type as arrow.Map_, valueOffsets: offsets, child: entries });
}

/** Strings (UTF-8) and binary: offsets and one buffer of all the bytes. */
function bytesData(t: PrimitiveType, values: Values, path: string, base: ColumnBase): arrow.Data {
  const n = base.length;
  // Two passes: byte lengths (native), then one allocation written in place.
  const offsets = new Int32Array(n + 1);
  let total = 0;
  for (let i = 0; i < n; i++) {
    const v = values[i];
    if (v === null || v === undefined) {
      /* null: zero-length slot */
    } else if (typeof v === 'string') total += Buffer.byteLength(v, 'utf8');
    else if (v instanceof Uint8Array) {
      if (t.name === 'string' && !isUtf8(v)) typeError(t, v, path);
      total += v.byteLength;
    } else typeError(t, v, path);
    if (total > 0x7fffffff) {
      throw new RangeError(`column ${path}: more than 2 GiB of text in one batch; use smaller batches`);
    }
    offsets[i + 1] = total;
  }
  const data = Buffer.allocUnsafe(total);
  for (let i = 0; i < n; i++) {
    const v = values[i];
    if (typeof v === 'string') data.write(v, offsets[i], 'utf8');
    else if (v instanceof Uint8Array) data.set(v, offsets[i]);
  }
  return arrow.makeData({
    ...base,
    type: base.type as arrow.Utf8,
    valueOffsets: offsets,
    data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
  });
}

/** long and timestamps (microseconds): 64-bit integers from bigints or integral numbers. */
function int64Data(t: PrimitiveType, values: Values, path: string, base: ColumnBase): arrow.Data {
  const n = base.length;
  const data = new BigInt64Array(n);
  // Safe integers are written as two 32-bit words (no BigInt per value; little-endian).
  const words = new Int32Array(data.buffer);
  for (let i = 0; i < n; i++) {
    const v = values[i];
    if (v === null || v === undefined) continue;
    if (typeof v === 'bigint') {
      if (v < INT64_MIN || v > INT64_MAX) typeError(t, v, path);
      data[i] = v;
    } else if (typeof v === 'number' && Number.isSafeInteger(v)) {
      const hi = Math.floor(v / 4294967296);
      words[2 * i] = v - hi * 4294967296;
      words[2 * i + 1] = hi;
    } else if (typeof v === 'number' && Number.isInteger(v) && v >= -(2 ** 63) && v < 2 ** 63) {
      data[i] = BigInt(v);
    } else typeError(t, v, path);
  }
  return arrow.makeData({ ...base, type: base.type as arrow.Int64, data });
}

/** integer, short, byte and date (days): integral numbers that fit the type's width. */
function intData(t: PrimitiveType, values: Values, path: string, base: ColumnBase): arrow.Data {
  const n = base.length;
  const data = t.name === 'short' ? new Int16Array(n) : t.name === 'byte' ? new Int8Array(n) : new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const v = values[i];
    if (v === null || v === undefined) continue;
    if (typeof v !== 'number' || !Number.isInteger(v)) typeError(t, v, path);
    data[i] = v;
    if (data[i] !== v) typeError(t, v, path); // the typed array wrapped it: out of range
  }
  return arrow.makeData({ ...base, type: base.type as arrow.Int32, data: data as Int32Array });
}

function floatData(t: PrimitiveType, values: Values, path: string, base: ColumnBase): arrow.Data {
  const n = base.length;
  const data = t.name === 'float' ? new Float32Array(n) : new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const v = values[i];
    if (v === null || v === undefined) continue;
    if (typeof v !== 'number') typeError(t, v, path);
    data[i] = v;
  }
  return arrow.makeData({ ...base, type: base.type as arrow.Float64, data: data as Float64Array });
}

/** One bit per value, least significant bit first. */
function booleanData(t: PrimitiveType, values: Values, path: string, base: ColumnBase): arrow.Data {
  const n = base.length;
  const data = new Uint8Array((n + 7) >> 3);
  for (let i = 0; i < n; i++) {
    const v = values[i];
    if (v === null || v === undefined) continue;
    if (typeof v !== 'boolean') typeError(t, v, path);
    if (v) data[i >> 3] |= 1 << (i & 7);
  }
  return arrow.makeData({ ...base, type: base.type as arrow.Bool, data });
}

/** An Arrow table from named columns (all of the same length). */
export function buildTable(
  schema: StructType,
  columns: Record<string, ArrayLike<DeltaValue>>,
  numRows: number,
): arrow.Table {
  const fields = schema.fields.map(arrowField);
  const children = schema.fields.map((f) => {
    const col = columns[f.name];
    if (col === undefined) {
      if (!f.nullable) throw new ValueError(`column ${f.name} is not nullable but missing from the input`, f.name);
      return buildData(f.type, new Array(numRows).fill(null), f.name);
    }
    if (col.length !== numRows) throw new RangeError(`column ${f.name} has ${col.length} values, expected ${numRows}`);
    return buildData(f.type, col, f.name, f.nullable);
  });
  const structType = new arrow.Struct(fields);
  const data = arrow.makeData({ type: structType, length: numRows, nullCount: 0, children });
  return new arrow.Table(new arrow.Schema(fields), new arrow.RecordBatch(new arrow.Schema(fields), data));
}

/**
 * Delta values -> Apache Arrow data, built directly into typed buffers
 * (apache-arrow's generic builders are several times slower).
 * Columns hold values in the representation of `delta/values.ts`.
 */
import * as arrow from 'apache-arrow';
import type { DataType, StructField, StructType } from '../delta/schema.ts';
import { parseDecimal, type DeltaValue } from '../delta/values.ts';
import { ValueError } from './write.ts';

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

function validity(values: ArrayLike<DeltaValue>, n: number): { nullBitmap: Uint8Array | undefined; nullCount: number } {
  let nullCount = 0;
  const bitmap = new Uint8Array((n + 7) >> 3);
  for (let i = 0; i < n; i++) {
    if (values[i] === null || values[i] === undefined) nullCount++;
    else bitmap[i >> 3] |= 1 << (i & 7);
  }
  return { nullBitmap: nullCount === 0 ? undefined : bitmap, nullCount };
}

function typeError(t: DataType, v: unknown, path: string): never {
  throw new ValueError(
    `column ${path}: value ${typeof v === 'bigint' ? `${v}n` : JSON.stringify(v)?.slice(0, 80)} does not fit type ${JSON.stringify(t)}`,
    path.split(/[.[]/)[0],
  );
}

/** Build Arrow data for one column of `n` values. `path` names the column in errors. */
export function buildData(t: DataType, values: ArrayLike<DeltaValue>, path: string): arrow.Data {
  const n = values.length;
  const { nullBitmap, nullCount } = validity(values, n);
  const type = arrowType(t);
  const common = { type, length: n, nullCount, nullBitmap } as const;
  switch (t.kind) {
    case 'decimal': {
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
      return arrow.makeData({ ...common, type: type as arrow.Decimal, data });
    }
    case 'struct': {
      const children = t.fields.map((f) => {
        const col = new Array<DeltaValue>(n);
        for (let i = 0; i < n; i++) {
          const o = values[i] as Record<string, DeltaValue> | null;
          col[i] = o === null || o === undefined ? null : (o[f.name] ?? null);
        }
        return buildData(f.type, col, `${path}.${f.name}`);
      });
      return arrow.makeData({ ...common, type: type as arrow.Struct, children });
    }
    case 'array': {
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
        ...common,
        type: type as arrow.List,
        valueOffsets: offsets,
        child: buildData(t.elementType, flat, `${path}[]`),
      });
    }
    case 'map': {
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
      const entryType = (type as arrow.Map_).children[0].type as arrow.Struct;
      const entries = arrow.makeData({
        type: entryType,
        length: keys.length,
        nullCount: 0,
        children: [buildData(t.keyType, keys, `${path}.key`), buildData(t.valueType, vals, `${path}.value`)],
      });
      return arrow.makeData({ ...common, type: type as arrow.Map_, valueOffsets: offsets, child: entries });
    }
    case 'primitive':
      switch (t.name) {
        case 'string':
        case 'binary': {
          // Two passes: byte lengths (native), then one allocation written in place.
          const offsets = new Int32Array(n + 1);
          let total = 0;
          for (let i = 0; i < n; i++) {
            const v = values[i];
            if (v === null || v === undefined) {
              /* null: zero-length slot */
            } else if (typeof v === 'string') total += Buffer.byteLength(v, 'utf8');
            else if (v instanceof Uint8Array) total += v.byteLength;
            else typeError(t, v, path);
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
            ...common,
            type: type as arrow.Utf8,
            valueOffsets: offsets,
            data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
          });
        }
        case 'long':
        case 'timestamp':
        case 'timestamp_ntz': {
          const data = new BigInt64Array(n);
          // Safe integers are written as two 32-bit words (no BigInt per value; little-endian).
          const words = new Int32Array(data.buffer);
          for (let i = 0; i < n; i++) {
            const v = values[i];
            if (v === null || v === undefined) continue;
            if (typeof v === 'bigint') data[i] = v;
            else if (typeof v === 'number' && Number.isSafeInteger(v)) {
              const hi = Math.floor(v / 4294967296);
              words[2 * i] = v - hi * 4294967296;
              words[2 * i + 1] = hi;
            } else if (typeof v === 'number' && Number.isInteger(v)) data[i] = BigInt(v);
            else typeError(t, v, path);
          }
          return arrow.makeData({ ...common, type: type as arrow.Int64, data });
        }
        case 'integer':
        case 'short':
        case 'byte':
        case 'date': {
          const data =
            t.name === 'short' ? new Int16Array(n) : t.name === 'byte' ? new Int8Array(n) : new Int32Array(n);
          for (let i = 0; i < n; i++) {
            const v = values[i];
            if (v === null || v === undefined) continue;
            if (typeof v !== 'number' || !Number.isInteger(v)) typeError(t, v, path);
            data[i] = v;
            if (data[i] !== v) typeError(t, v, path);
          }
          return arrow.makeData({ ...common, type: type as arrow.Int32, data: data as Int32Array });
        }
        case 'float':
        case 'double': {
          const data = t.name === 'float' ? new Float32Array(n) : new Float64Array(n);
          for (let i = 0; i < n; i++) {
            const v = values[i];
            if (v === null || v === undefined) continue;
            if (typeof v !== 'number') typeError(t, v, path);
            data[i] = v;
          }
          return arrow.makeData({ ...common, type: type as arrow.Float64, data: data as Float64Array });
        }
        case 'boolean': {
          const data = new Uint8Array((n + 7) >> 3);
          for (let i = 0; i < n; i++) {
            const v = values[i];
            if (v === null || v === undefined) continue;
            if (typeof v !== 'boolean') typeError(t, v, path);
            if (v) data[i >> 3] |= 1 << (i & 7);
          }
          return arrow.makeData({ ...common, type: type as arrow.Bool, data });
        }
      }
  }
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
    if (col === undefined) return buildData(f.type, new Array(numRows).fill(null), f.name);
    if (col.length !== numRows) throw new RangeError(`column ${f.name} has ${col.length} values, expected ${numRows}`);
    if (!f.nullable) {
      for (let i = 0; i < numRows; i++) {
        if (col[i] === null || col[i] === undefined) {
          throw new ValueError(`column ${f.name} is not nullable but row ${i} is null`, f.name);
        }
      }
    }
    return buildData(f.type, col, f.name);
  });
  const structType = new arrow.Struct(fields);
  const data = arrow.makeData({ type: structType, length: numRows, nullCount: 0, children });
  return new arrow.Table(new arrow.Schema(fields), new arrow.RecordBatch(new arrow.Schema(fields), data));
}

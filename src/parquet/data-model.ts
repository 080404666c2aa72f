/**
 * The table data model shared by the Parquet layer and the Delta protocol:
 * logical types (primitive, decimal, struct, array, map; Delta's schema
 * serialises exactly these) and the in-memory representation of values:
 *
 *   string -> string            long -> bigint          integer/short/byte -> number
 *   float/double -> number      boolean -> boolean      binary -> Uint8Array
 *   decimal -> exact string with the type's scale ("10.000")
 *   date -> number of days since 1970-01-01
 *   timestamp, timestamp_ntz -> bigint microseconds since the epoch (UTC)
 *   struct -> object in field order; array -> array; map -> [key, value][]
 *   null -> null
 */
export type PrimitiveTypeName =
  | 'string'
  | 'long'
  | 'integer'
  | 'short'
  | 'byte'
  | 'float'
  | 'double'
  | 'boolean'
  | 'binary'
  | 'date'
  | 'timestamp'
  | 'timestamp_ntz';

export interface DecimalType {
  kind: 'decimal';
  precision: number;
  scale: number;
}
export interface PrimitiveType {
  kind: 'primitive';
  name: PrimitiveTypeName;
}
export interface StructType {
  kind: 'struct';
  fields: StructField[];
}
export interface ArrayType {
  kind: 'array';
  elementType: DataType;
  containsNull: boolean;
}
export interface MapType {
  kind: 'map';
  keyType: DataType;
  valueType: DataType;
  valueContainsNull: boolean;
}
export type DataType = PrimitiveType | DecimalType | StructType | ArrayType | MapType;

export interface StructField {
  name: string;
  type: DataType;
  nullable: boolean;
  metadata: Record<string, unknown>;
}

/** Rows as columns: each column holds `numRows` values. */
export interface ColumnBatch {
  numRows: number;
  columns: Record<string, ArrayLike<Value>>;
}

export type Value = null | string | number | bigint | boolean | Uint8Array | Value[] | { [key: string]: Value };

/** Parse a decimal string ("1.5", "-0.25", "1e3") to its unscaled value at `scale`; throws if it would lose digits. */
export function parseDecimal(s: string, scale: number): bigint {
  const m = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/.exec(s.trim());
  if (!m || (m[2] === '' && (m[3] ?? '') === '')) throw new Error(`invalid decimal "${s}"`);
  const exp = Number(m[4] ?? 0);
  let intPart = m[2] || '0';
  let frac = m[3] ?? '';
  // shift by exponent
  if (exp > 0) {
    const take = frac.slice(0, exp).padEnd(exp, '0');
    intPart += take;
    frac = frac.slice(exp);
  } else if (exp < 0) {
    const pad = intPart.padStart(-exp + 1, '0');
    frac = pad.slice(exp) + frac;
    intPart = pad.slice(0, exp);
  }
  if (frac.length > scale) {
    if (/[1-9]/.test(frac.slice(scale))) throw new Error(`decimal "${s}" has more than ${scale} fraction digits`);
    frac = frac.slice(0, scale);
  }
  const v = BigInt(intPart + frac.padEnd(scale, '0'));
  return m[1] === '-' ? -v : v;
}

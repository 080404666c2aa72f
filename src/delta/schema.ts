/**
 * Delta table schema (the `schemaString` of metaData): primitive type names,
 * struct, array and map, as in PROTOCOL.md "Schema Serialization Format".
 */
import { ReddStreamError } from '../errors.ts';

export type {
  ArrayType,
  DataType,
  DecimalType,
  MapType,
  PrimitiveType,
  PrimitiveTypeName,
  StructField,
  StructType,
} from '../parquet/data-model.ts';
import type { DataType, PrimitiveType, PrimitiveTypeName, StructField, StructType } from '../parquet/data-model.ts';

const PRIMITIVES = new Set<string>([
  'string',
  'long',
  'integer',
  'short',
  'byte',
  'float',
  'double',
  'boolean',
  'binary',
  'date',
  'timestamp',
  'timestamp_ntz',
]);

export const primitive = (name: PrimitiveTypeName): PrimitiveType => ({ kind: 'primitive', name });

export function field(
  name: string,
  type: DataType | PrimitiveTypeName,
  nullable = true,
  metadata: Record<string, unknown> = {},
): StructField {
  return { name, type: typeof type === 'string' ? primitive(type) : type, nullable, metadata };
}

export function struct(fields: StructField[]): StructType {
  return { kind: 'struct', fields };
}

/** Parse a Delta `schemaString`. Throws a clear error on anything malformed. */
export function parseSchemaString(schemaString: string): StructType {
  let json: unknown;
  try {
    json = JSON.parse(schemaString);
  } catch (err) {
    throw new ReddStreamError('CORRUPT_LOG', `metaData.schemaString is not valid JSON: ${(err as Error).message}`);
  }
  const t = parseType(json, 'schema');
  if (t.kind !== 'struct') throw new ReddStreamError('CORRUPT_LOG', 'metaData.schemaString must be a struct type');
  return t;
}

function parseType(json: unknown, where: string): DataType {
  if (typeof json === 'string') {
    if (PRIMITIVES.has(json)) return { kind: 'primitive', name: json as PrimitiveTypeName };
    const m = /^decimal\(\s*(\d+)\s*,\s*(\d+)\s*\)$/.exec(json);
    if (m) return { kind: 'decimal', precision: Number(m[1]), scale: Number(m[2]) };
    if (json === 'decimal') return { kind: 'decimal', precision: 10, scale: 0 };
    throw new ReddStreamError('UNSUPPORTED_FEATURE', `unsupported data type "${json}" at ${where}`);
  }
  if (json && typeof json === 'object') {
    const o = json as Record<string, unknown>;
    switch (o.type) {
      case 'struct': {
        if (!Array.isArray(o.fields)) throw new ReddStreamError('CORRUPT_LOG', `struct without fields at ${where}`);
        return {
          kind: 'struct',
          fields: o.fields.map((f: Record<string, unknown>, i: number) => {
            if (!f || typeof f.name !== 'string') {
              throw new ReddStreamError('CORRUPT_LOG', `field ${i} without a name at ${where}`);
            }
            return {
              name: f.name,
              type: parseType(f.type, `${where}.${f.name}`),
              nullable: f.nullable !== false,
              metadata: f.metadata && typeof f.metadata === 'object' ? (f.metadata as Record<string, unknown>) : {},
            };
          }),
        };
      }
      case 'array':
        return {
          kind: 'array',
          elementType: parseType(o.elementType, `${where}[]`),
          containsNull: o.containsNull !== false,
        };
      case 'map':
        return {
          kind: 'map',
          keyType: parseType(o.keyType, `${where}.key`),
          valueType: parseType(o.valueType, `${where}.value`),
          valueContainsNull: o.valueContainsNull !== false,
        };
    }
  }
  throw new ReddStreamError('CORRUPT_LOG', `invalid data type ${JSON.stringify(json)} at ${where}`);
}

export function typeToJson(t: DataType): unknown {
  switch (t.kind) {
    case 'primitive':
      return t.name;
    case 'decimal':
      return `decimal(${t.precision},${t.scale})`;
    case 'struct':
      return {
        type: 'struct',
        fields: t.fields.map((f) => ({
          name: f.name,
          type: typeToJson(f.type),
          nullable: f.nullable,
          metadata: f.metadata,
        })),
      };
    case 'array':
      return { type: 'array', elementType: typeToJson(t.elementType), containsNull: t.containsNull };
    case 'map':
      return {
        type: 'map',
        keyType: typeToJson(t.keyType),
        valueType: typeToJson(t.valueType),
        valueContainsNull: t.valueContainsNull,
      };
  }
}

export function schemaToString(schema: StructType): string {
  return JSON.stringify(typeToJson(schema));
}

/** Short type name for display: `long`, `decimal(5,3)`, `struct<a: long>`, ... */
export function typeName(t: DataType): string {
  switch (t.kind) {
    case 'primitive':
      return t.name;
    case 'decimal':
      return `decimal(${t.precision},${t.scale})`;
    case 'struct':
      return `struct<${t.fields.map((f) => `${f.name}: ${typeName(f.type)}`).join(', ')}>`;
    case 'array':
      return `array<${typeName(t.elementType)}>`;
    case 'map':
      return `map<${typeName(t.keyType)}, ${typeName(t.valueType)}>`;
  }
}

export function typesEqual(a: DataType, b: DataType): boolean {
  return JSON.stringify(typeToJson(a)) === JSON.stringify(typeToJson(b));
}

/**
 * The columns of `next` that `current` lacks (all nullable), or throws when
 * one of them is not nullable or a column `current` has gets another type.
 * Names match case-insensitively. Columns of `current` missing from `next`
 * are allowed here (see `addedColumns`).
 */
export function newColumns(current: StructType, next: StructType): StructField[] {
  const byName = new Map(current.fields.map((f) => [f.name.toLowerCase(), f]));
  const added: StructField[] = [];
  for (const f of next.fields) {
    const old = byName.get(f.name.toLowerCase());
    if (!old) {
      if (!f.nullable) {
        throw new ReddStreamError(
          'SCHEMA_MISMATCH',
          `new column "${f.name}" must be nullable: existing rows have no value for it`,
        );
      }
      added.push(f);
    } else if (!typesEqual(old.type, f.type)) {
      throw new ReddStreamError(
        'SCHEMA_MISMATCH',
        `column "${f.name}" has type ${typeName(old.type)} in the table but ${typeName(f.type)} in the new data`,
      );
    }
  }
  return added;
}

/**
 * Schema evolution check for appends: `next` may add nullable top-level
 * columns to `current`; existing columns must keep their type. Returns the
 * names of added columns, or throws naming the incompatible column.
 */
export function addedColumns(current: StructType, next: StructType): string[] {
  const added = newColumns(current, next).map((f) => f.name);
  for (const f of current.fields) {
    if (!next.fields.some((n) => n.name.toLowerCase() === f.name.toLowerCase())) {
      throw new ReddStreamError(
        'SCHEMA_MISMATCH',
        `column "${f.name}" is missing from the new schema (dropping columns is not supported)`,
      );
    }
  }
  return added;
}

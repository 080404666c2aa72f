/**
 * File pruning for `query` (pure): from DuckDB's parsed statement
 * (`json_serialize_sql`), take the conjunctive comparisons `column op
 * constant` of a single-table SELECT, and skip data files whose partition
 * values or min/max stats prove no row can match. Anything not understood
 * keeps the file: pruning may only ever skip files that cannot match.
 */
/* eslint-disable @typescript-eslint/no-explicit-any -- DuckDB's serialized statement is untyped JSON, read defensively field by field */
import type { Add } from '../delta/actions.ts';
import type { DataType, StructField, StructType } from '../delta/schema.ts';
import { compareCodePoints } from '../storage/object-store.ts';
import { parseDate, parseTimestampMicros } from '../delta/values.ts';

export type Op = '=' | '<' | '<=' | '>' | '>=';
export interface Predicate {
  column: string;
  op: Op;
  value: string | number | boolean;
}

const OPS: Record<string, Op> = {
  COMPARE_EQUAL: '=',
  COMPARE_LESSTHAN: '<',
  COMPARE_LESSTHANOREQUALTO: '<=',
  COMPARE_GREATERTHAN: '>',
  COMPARE_GREATERTHANOREQUALTO: '>=',
};
const FLIP: Record<Op, Op> = { '=': '=', '<': '>', '<=': '>=', '>': '<', '>=': '<=' };

/**
 * The value of a literal, as DuckDB will compare it, or undefined when that
 * is not certain. DECIMAL literals (`0.25`) come as an unscaled integer and a
 * scale; a CAST changes the value (`50.6::BIGINT` is 51), so only casts of a
 * text literal to a timestamp, or of a plain `YYYY-MM-DD` to a date, which
 * the comparators read the same way, are understood.
 */
function constant(node: any): string | number | boolean | undefined {
  if (!node) return undefined;
  if (node.class === 'CAST' && !node.try_cast) {
    const target = node.cast_type?.id;
    const child = node.child;
    const text =
      child?.class === 'CONSTANT' &&
      child.value?.type?.id === 'VARCHAR' &&
      !child.value.is_null &&
      typeof child.value.value === 'string'
        ? (child.value.value as string)
        : undefined;
    if (text === undefined) return undefined;
    // DuckDB ignores a zone offset in a TIMESTAMP (no time zone) literal, which the comparator would apply.
    if (
      target === 'TIMESTAMP WITH TIME ZONE' ||
      (target === 'TIMESTAMP' && !/(z|[+-]\d{2}(:?\d{2})?)$/i.test(text.trim()))
    ) {
      return text;
    }
    if (target === 'DATE' && /^\d{4}-\d{2}-\d{2}$/.test(text.trim())) return text.trim();
    return undefined;
  }
  if (node.class === 'CONSTANT' && node.value && !node.value.is_null) {
    const v = node.value.value;
    if (node.value.type?.id === 'DECIMAL') {
      const scale = node.value.type.type_info?.scale;
      return typeof v === 'number' && Number.isSafeInteger(v) && Number.isInteger(scale) ? scaled(v, scale) : undefined;
    }
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return v;
  }
  return undefined;
}

/** The decimal text of `unscaled` / 10^scale, exactly ("25", 2 -> "0.25"). */
function scaled(unscaled: number, scale: number): string {
  const neg = unscaled < 0;
  const digits = String(Math.abs(unscaled)).padStart(scale + 1, '0');
  const text = scale > 0 ? `${digits.slice(0, -scale)}.${digits.slice(-scale)}` : digits;
  return neg ? `-${text}` : text;
}

/** The column a reference names: `col`, or `t.col` where t is the table or its alias (not a struct field `s.x`). */
function column(node: any, names: ReadonlySet<string>): string | undefined {
  if (node?.class !== 'COLUMN_REF' || !Array.isArray(node.column_names)) return undefined;
  const parts = node.column_names as string[];
  if (parts.length === 1) return parts[0];
  if (parts.length === 2 && names.has(String(parts[0]).toLowerCase())) return parts[1];
  return undefined;
}

function collect(node: any, out: Predicate[], names: ReadonlySet<string>): void {
  if (!node) return;
  if (node.class === 'CONJUNCTION' && node.type === 'CONJUNCTION_AND') {
    for (const c of node.children ?? []) collect(c, out, names);
    return;
  }
  if (node.class === 'COMPARISON' && OPS[node.type]) {
    const op = OPS[node.type];
    const lc = column(node.left, names),
      rc = column(node.right, names);
    const lv = constant(node.left),
      rv = constant(node.right);
    if (lc !== undefined && rv !== undefined) out.push({ column: lc, op, value: rv });
    else if (rc !== undefined && lv !== undefined) out.push({ column: rc, op: FLIP[op], value: lv });
  }
}

/** Predicates of a single-table SELECT, or null when the statement is anything else. */
export function extractPredicates(serialized: unknown): { table: string; predicates: Predicate[] } | null {
  const s = serialized as any;
  if (!s || s.error || !Array.isArray(s.statements) || s.statements.length !== 1) return null;
  const node = s.statements[0].node;
  if (node?.type !== 'SELECT_NODE' || node.from_table?.type !== 'BASE_TABLE') return null;
  if ((node.cte_map?.map ?? []).length) return null;
  // The pruned file list becomes the table's view for the whole statement:
  // only when the table is read once (no subquery reads it again) does the
  // outer WHERE speak for every read.
  const table = String(node.from_table.table_name);
  if (baseTableReads(s.statements[0], table.toLowerCase()) !== 1 || hasTableFunction(s.statements[0])) return null;
  // Columns renamed by an alias list (`FROM t AS x(a, b)`) would be matched to the wrong stats.
  if ((node.from_table.column_name_alias ?? []).length) return null;
  const names = new Set([table.toLowerCase(), String(node.from_table.alias ?? '').toLowerCase()].filter(Boolean));
  const predicates: Predicate[] = [];
  collect(node.where_clause, predicates, names);
  return { table, predicates };
}

/** Whether the statement calls a table function anywhere (e.g. query_table('t'), which may read the table again). */
function hasTableFunction(node: unknown): boolean {
  if (Array.isArray(node)) return node.some(hasTableFunction);
  if (!node || typeof node !== 'object') return false;
  const o = node as Record<string, unknown>;
  return o.type === 'TABLE_FUNCTION' || Object.values(o).some(hasTableFunction);
}

/** How many times the statement reads base table `name` (lower case), anywhere in it. */
function baseTableReads(node: unknown, name: string): number {
  if (Array.isArray(node)) return node.reduce((n: number, x) => n + baseTableReads(x, name), 0);
  if (!node || typeof node !== 'object') return 0;
  const o = node as Record<string, unknown>;
  let n = o.type === 'BASE_TABLE' && typeof o.table_name === 'string' && o.table_name.toLowerCase() === name ? 1 : 0;
  for (const v of Object.values(o)) n += baseTableReads(v, name);
  return n;
}

type Cmp = (a: unknown, b: unknown) => number | null;

function comparatorFor(t: DataType): Cmp | null {
  const num = (x: unknown) => (typeof x === 'number' ? x : typeof x === 'string' && x.trim() !== '' ? Number(x) : NaN);
  // Stats and literals of long and decimal columns arrive as JS numbers, which
  // round beyond 2^53 or 15-17 digits: values too close to tell apart after
  // rounding compare as unknown (the file is kept), never as ordered.
  const exact: Cmp = (a, b) => {
    const x = num(a),
      y = num(b);
    if (Number.isNaN(x) || Number.isNaN(y)) return null;
    const d = x - y;
    if (Math.abs(d) > (Math.abs(x) + Math.abs(y)) * 2 ** -50) return d;
    return d === 0 && Number.isSafeInteger(x) && Number.isSafeInteger(y) ? 0 : null;
  };
  if (t.kind === 'decimal') return exact;
  if (t.kind !== 'primitive') return null;
  switch (t.name) {
    case 'long':
    case 'integer':
    case 'short':
    case 'byte':
      return exact;
    case 'float':
    case 'double':
      return (a, b) => {
        const x = num(a),
          y = num(b);
        return Number.isNaN(x) || Number.isNaN(y) ? null : x - y;
      };
    case 'string':
      return (a, b) => (typeof a === 'string' && typeof b === 'string' ? compareCodePoints(a, b) : null);
    case 'date':
      // Dates only: DuckDB compares a date with a timestamp at the date's midnight, not by the timestamp's day.
      return (a, b) => {
        const x = String(a).trim(),
          y = String(b).trim();
        if (!/^\d{4}-\d{2}-\d{2}$/.test(x) || !/^\d{4}-\d{2}-\d{2}$/.test(y)) return null;
        try {
          return parseDate(x) - parseDate(y);
        } catch {
          return null;
        }
      };
    case 'timestamp':
    case 'timestamp_ntz':
      return (a, b) => {
        try {
          const x = parseTimestampMicros(String(a)),
            y = parseTimestampMicros(String(b));
          return x < y ? -1 : x > y ? 1 : 0;
        } catch {
          return null;
        }
      };
    default:
      return null;
  }
}

function lookup(obj: unknown, column: string): unknown {
  if (!obj || typeof obj !== 'object') return undefined;
  const o = obj as Record<string, unknown>;
  if (column in o) return o[column];
  const k = Object.keys(o).find((x) => x.toLowerCase() === column.toLowerCase());
  return k === undefined ? undefined : o[k];
}

/** False only when the file provably holds no row matching all predicates. */
export function fileMayMatch(
  add: Add,
  predicates: Predicate[],
  schema: StructType,
  partitionColumns: string[],
): boolean {
  let stats: any = null; // parsed when a predicate first needs them
  for (const p of predicates) {
    const f = schema.fields.find((x) => x.name.toLowerCase() === p.column.toLowerCase());
    if (!f) continue;
    const cmp = comparatorFor(f.type);
    if (!cmp) continue;
    if (partitionColumns.includes(f.name)) {
      if (!partitionValueMayMatch(add.partitionValues[f.name] ?? null, p, cmp)) return false;
      continue;
    }
    if (stats === null) stats = parseStats(add);
    if (!statsMayMatch(stats, f, p, cmp)) return false;
  }
  return true;
}

function partitionValueMayMatch(v: string | null, p: Predicate, cmp: Cmp): boolean {
  if (v === null) return false; // NULL never satisfies a comparison
  const c = cmp(v, p.value);
  return c === null || test(c, p.op);
}

/** The add's stats JSON; unreadable or absent stats are no stats. */
function parseStats(add: Add): any {
  try {
    return add.stats ? JSON.parse(add.stats) : {};
  } catch {
    return {};
  }
}

/** Whether the column's min/max in the file's stats leave room for a value satisfying `p` (no stats: yes). */
function statsMayMatch(stats: any, f: StructField, p: Predicate, cmp: Cmp): boolean {
  const isTs = f.type.kind === 'primitive' && (f.type.name === 'timestamp' || f.type.name === 'timestamp_ntz');
  const min = lookup(stats.minValues, f.name);
  let max = lookup(stats.maxValues, f.name);
  if (isTs && typeof max === 'string') max = widenedTimestampMax(max);
  if (min === undefined || max === undefined || min === null || max === null) return true;
  const cMin = cmp(min, p.value),
    cMax = cmp(max, p.value);
  if (cMin === null || cMax === null) return true;
  // Each case negates "the range provably misses the value", so an unordered comparison (NaN) keeps the file.
  switch (p.op) {
    case '=':
      return !(cMin > 0 || cMax < 0);
    case '<':
      return !(cMin >= 0);
    case '<=':
      return !(cMin > 0);
    case '>':
      return !(cMax <= 0);
    case '>=':
      return !(cMax < 0);
  }
}

/** Other writers truncate a timestamp max to milliseconds: the max widened by 1 ms (undefined when unreadable). */
function widenedTimestampMax(max: string): string | undefined {
  try {
    return formatWidened(parseTimestampMicros(max) + 1000n);
  } catch {
    return undefined;
  }
}

function test(c: number, op: Op): boolean {
  switch (op) {
    case '=':
      return c === 0;
    case '<':
      return c < 0;
    case '<=':
      return c <= 0;
    case '>':
      return c > 0;
    case '>=':
      return c >= 0;
  }
}

function formatWidened(micros: bigint): string {
  const ms = Number(micros / 1000n);
  return new Date(ms).toISOString().replace('Z', '') + String(Number(micros % 1000n)).padStart(3, '0') + 'Z';
}

/**
 * Scan: the rows of a snapshot. Reads every live data file, maps its columns
 * onto the table schema by name (a column missing from an older file reads as
 * null), and materialises partition columns from `partitionValues`.
 * Removed files are never read: only the snapshot's live `add`s are.
 */
import { ReddStreamError } from '../errors.ts';
import { openParquet } from '../parquet/read.ts';
import { dataFilePath, type Add } from './actions.ts';
import type { Snapshot } from './snapshot.ts';
import type { StructType } from './schema.ts';
import { coerceValue, parsePartitionValue, type DeltaValue } from './values.ts';

export type Row = Record<string, DeltaValue>;

export interface ScanOptions {
  /** Only these top-level columns (default: all). */
  columns?: string[];
  /** Keep a file only when this returns true (partition pruning / stats skipping). */
  fileFilter?: (add: Add) => boolean;
  /** Stop after this many rows. */
  limit?: number;
}

/** Yields rows file by file (memory bounded by the largest file). */
export async function* scanRows(snapshot: Snapshot, options: ScanOptions = {}): AsyncGenerator<Row> {
  const schema = snapshot.schema;
  const fields = options.columns
    ? options.columns.map((c) => {
        const f = schema.fields.find((x) => x.name === c);
        if (!f) {
          throw new ReddStreamError(
            'NO_SUCH_COLUMN',
            `no column "${c}" in ${snapshot.store.url} (columns: ${schema.fields.map((x) => x.name).join(', ')})`,
          );
        }
        return f;
      })
    : schema.fields;
  const partCols = new Set(snapshot.partitionColumns);
  let emitted = 0;
  const files = snapshot.files().filter((a) => !options.fileFilter || options.fileFilter(a));
  files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  for (const add of files) {
    if (options.limit !== undefined && emitted >= options.limit) return;
    if (add.deletionVector) {
      throw new ReddStreamError(
        'UNSUPPORTED_FEATURE',
        `cannot read ${add.path} in ${snapshot.store.url}: it has a deletion vector (deletionVectors is not supported)`,
      );
    }
    for (const row of await readFileRows(snapshot, add, fields, partCols)) {
      if (options.limit !== undefined && emitted >= options.limit) return;
      emitted++;
      yield row;
    }
  }
}

export async function readAllRows(snapshot: Snapshot, options: ScanOptions = {}): Promise<Row[]> {
  const rows: Row[] = [];
  for await (const r of scanRows(snapshot, options)) rows.push(r);
  return rows;
}

async function readFileRows(
  snapshot: Snapshot,
  add: Add,
  fields: StructType['fields'],
  partCols: Set<string>,
): Promise<Row[]> {
  const path = dataFilePath(add, snapshot.store.url);
  const pq = await openParquet(snapshot.store, path, add.size > 0 ? add.size : undefined);
  // Physical column names: exact match first, then case-insensitive (Spark is case-insensitive).
  const physical = new Map<string, string>();
  const lower = new Map(pq.columns.map((c) => [c.toLowerCase(), c]));
  for (const f of fields) {
    if (partCols.has(f.name)) continue;
    const name = pq.columns.includes(f.name) ? f.name : lower.get(f.name.toLowerCase());
    if (name !== undefined) physical.set(f.name, name);
  }
  const raw = await pq.readRows([...new Set(physical.values())]);
  const partValues = new Map<string, DeltaValue>();
  for (const f of fields) {
    if (!partCols.has(f.name)) continue;
    const key = Object.prototype.hasOwnProperty.call(add.partitionValues, f.name)
      ? f.name
      : Object.keys(add.partitionValues).find((k) => k.toLowerCase() === f.name.toLowerCase());
    try {
      partValues.set(f.name, parsePartitionValue(key === undefined ? null : add.partitionValues[key], f.type));
    } catch (err) {
      throw new ReddStreamError(
        'CORRUPT_LOG',
        `bad partition value for "${f.name}" in ${add.path}: ${(err as Error).message}`,
      );
    }
  }
  const out: Row[] = new Array(raw.length);
  for (let i = 0; i < raw.length; i++) {
    const r = raw[i];
    const row: Row = {};
    for (const f of fields) {
      if (partCols.has(f.name)) row[f.name] = partValues.get(f.name)!;
      else {
        const p = physical.get(f.name);
        try {
          row[f.name] = p === undefined ? null : coerceValue(r[p], f.type);
        } catch (err) {
          throw new ReddStreamError(
            'CORRUPT_DATA_FILE',
            `column "${f.name}" of ${snapshot.store.url}/${path} does not match the table type: ${(err as Error).message}`,
          );
        }
      }
    }
    out[i] = row;
  }
  return out;
}

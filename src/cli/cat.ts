/** `reddit-stream cat`: print a table's rows (ndjson in canonical form, csv, or an aligned table). */
import { loadSnapshot } from '../delta/snapshot.ts';
import { scanRows } from '../delta/scan.ts';
import { canonicalJson, displayValue } from '../delta/values.ts';
import { openStore, type S3StoreOptions } from '../storage/index.ts';
import { renderTable, csvLine } from './format.ts';

export type RowFormat = 'ndjson' | 'csv' | 'table';

export interface CatOptions {
  s3?: S3StoreOptions;
  version?: number;
  format?: RowFormat;
  limit?: number;
}

/** Output lines of `cat` (without trailing newlines). */
export async function* catLines(uri: string, options: CatOptions = {}): AsyncGenerator<string> {
  const snapshot = await loadSnapshot(openStore(uri, options.s3), { version: options.version });
  const fields = snapshot.schema.fields;
  const format = options.format ?? 'ndjson';
  const rows = scanRows(snapshot, { limit: options.limit });
  if (format === 'ndjson') {
    for await (const row of rows) yield canonicalJson(row, snapshot.schema);
  } else if (format === 'csv') {
    yield csvLine(fields.map((f) => f.name));
    for await (const row of rows) yield csvLine(fields.map((f) => displayValue(row[f.name] ?? null, f.type)));
  } else {
    const cells: string[][] = [];
    for await (const row of rows) cells.push(fields.map((f) => displayValue(row[f.name] ?? null, f.type)));
    yield* renderTable(
      fields.map((f) => f.name),
      cells,
    );
  }
}

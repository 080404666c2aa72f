/**
 * Parquet reading through the ObjectStore, with hyparquet (pure JS).
 *
 * Values come back "raw but lossless": timestamps as bigint microseconds,
 * dates as day numbers, decimals as their unscaled integer (number, bigint or
 * big-endian bytes; hyparquet would turn them into lossy floats, so the
 * DECIMAL annotation is stripped before decoding), binary as Uint8Array,
 * annotated strings as strings, maps as [key, value][] in file order. The
 * Delta layer maps them onto its schema.
 */
import {
  parquetMetadataAsync,
  parquetReadObjects,
  parquetSchema,
  type AsyncBuffer,
  type FileMetaData,
  type SchemaElement,
  type SchemaTree,
} from 'hyparquet';
import { compressors } from 'hyparquet-compressors';
import { ReddStreamError, isNotFound } from '../errors.ts';
import type { ObjectStore } from '../storage/object-store.ts';

const PARSERS = {
  timestampFromMilliseconds: (v: bigint) => BigInt(v) * 1000n,
  timestampFromMicroseconds: (v: bigint) => BigInt(v),
  timestampFromNanoseconds: (v: bigint) => {
    const n = BigInt(v);
    // floor division toward -infinity
    return n >= 0n ? n / 1000n : -((-n + 999n) / 1000n);
  },
  dateFromDays: (v: number) => Number(v),
};

export interface ParquetFile {
  path: string;
  metadata: FileMetaData;
  numRows: number;
  /** Top-level column names. */
  columns: string[];
  readRows(columns?: string[]): Promise<Record<string, unknown>[]>;
}

/** Objects up to this size are fetched whole: one request instead of footer + chunks. */
const WHOLE_FILE_BYTES = 4 * 1024 * 1024;

async function wholeFile(store: ObjectStore, path: string): Promise<ArrayBuffer> {
  const bytes = await store.get(path);
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
}

function storeBuffer(store: ObjectStore, path: string, size: number): AsyncBuffer {
  return {
    byteLength: size,
    async slice(start: number, end?: number): Promise<ArrayBuffer> {
      const bytes = await store.getRange(path, start, end ?? size);
      return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
    },
  };
}

/** Parse the footer of a Parquet object. `size` avoids a HEAD when known. */
export async function openParquet(store: ObjectStore, path: string, size?: number): Promise<ParquetFile> {
  let byteLength = size;
  if (byteLength === undefined) {
    const meta = await store.head(path);
    if (!meta) throw new ReddStreamError('MISSING_DATA_FILE', `Parquet file not found: ${store.url}/${path}`);
    byteLength = meta.size;
  }
  let file: AsyncBuffer;
  let metadata: FileMetaData;
  let tree: SchemaTree;
  try {
    file = byteLength <= WHOLE_FILE_BYTES ? await wholeFile(store, path) : storeBuffer(store, path, byteLength);
    metadata = await parquetMetadataAsync(file);
    tree = parquetSchema(metadata);
  } catch (err) {
    throw readError(err, store, path, 'not a readable Parquet file');
  }
  const toDeltaForm = deltaForm(tree);
  metadata = stripAnnotations(metadata, tree);
  const columns = tree.children.map((c) => c.element.name);
  return {
    path,
    metadata,
    numRows: Number(metadata.num_rows),
    columns,
    async readRows(wanted?: string[]) {
      const cols = wanted?.filter((c) => columns.includes(c));
      if (wanted && cols && cols.length === 0) return Array.from({ length: Number(metadata.num_rows) }, () => ({}));
      let rows: Record<string, unknown>[];
      try {
        rows = await parquetReadObjects({ file, metadata, columns: cols, compressors, utf8: false, parsers: PARSERS });
        if (toDeltaForm) for (const row of rows) toDeltaForm(row);
      } catch (err) {
        throw readError(err, store, path, 'failed to decode Parquet file');
      }
      return rows;
    },
  };
}

/**
 * The error for a failure reading `path`, whether the whole file or byte ranges were read: a missing
 * object is MISSING_DATA_FILE, any other coded store error passes through, anything else is CORRUPT_DATA_FILE.
 */
function readError(err: unknown, store: ObjectStore, path: string, corrupt: string): ReddStreamError {
  const where = `${store.url}/${path}`;
  if (isNotFound(err)) {
    return new ReddStreamError(
      'MISSING_DATA_FILE',
      `Parquet file not found: ${where} (the log references it but it is gone; was it vacuumed or deleted by hand?)`,
      { cause: err },
    );
  }
  if (err instanceof ReddStreamError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new ReddStreamError('CORRUPT_DATA_FILE', `${corrupt} ${where}: ${message}`, { cause: err });
}

/** A map group: MAP (or MAP_KEY_VALUE) annotated, with one repeated key/value group. */
function isMap(node: SchemaTree): boolean {
  const e = node.element;
  if (e.converted_type !== 'MAP' && e.converted_type !== 'MAP_KEY_VALUE' && e.logical_type?.type !== 'MAP') {
    return false;
  }
  const entries = node.children.length === 1 ? node.children[0] : undefined;
  return entries?.element.repetition_type === 'REPEATED' && entries.children.length === 2;
}

/** A list as hyparquet assembles one (its `isListLike`): values are arrays of the element. */
function listElement(node: SchemaTree): SchemaTree | undefined {
  if (node.element.converted_type !== 'LIST' || node.children.length !== 1) return undefined;
  const repeated = node.children[0];
  if (repeated.element.repetition_type !== 'REPEATED' || repeated.children.length > 1) return undefined;
  return repeated.children.length === 1 ? repeated.children[0] : repeated;
}

type Convert = (v: unknown) => unknown;

const orNull = (f: Convert | undefined, v: unknown): unknown => (v === null || v === undefined ? null : f ? f(v) : v);

/**
 * The conversion of a value of `node`, as hyparquet assembles it with map annotations stripped, to the
 * Delta form: each map group's `{ [entries]: [{ key, value }] }` becomes `[key, value][]`. Containers
 * are updated in place. Undefined when the subtree holds no map. Takes non-null values only.
 */
function deltaForm(node: SchemaTree): Convert | undefined {
  if (isMap(node)) {
    const entries = node.children[0];
    const [k, v] = entries.children;
    const key = deltaForm(k);
    const value = deltaForm(v);
    return (x) =>
      ((x as Record<string, unknown>)[entries.element.name] as Record<string, unknown>[]).map((e) => [
        orNull(key, e[k.element.name]),
        orNull(value, e[v.element.name]),
      ]);
  }
  const element = listElement(node);
  if (element) {
    const each = deltaForm(element);
    return each && ((x) => (x as unknown[]).map((e) => orNull(each, e)));
  }
  const fields: Array<[string, Convert]> = [];
  for (const child of node.children) {
    const f = deltaForm(child);
    if (!f) continue;
    // a repeated field outside a list or map annotation is assembled as an array
    const g: Convert =
      child.element.repetition_type === 'REPEATED' ? (x) => (x as unknown[]).map((e) => orNull(f, e)) : f;
    fields.push([child.element.name, g]);
  }
  if (fields.length === 0) return undefined;
  return (x) => {
    const o = x as Record<string, unknown>;
    for (const [name, f] of fields) if (o[name] !== null && o[name] !== undefined) o[name] = f(o[name]);
    return o;
  };
}

/**
 * Metadata hyparquet decodes losslessly: without DECIMAL annotations (it would make lossy floats) and
 * without MAP annotations (it would make objects keyed by String(key); `deltaForm` makes the pairs).
 */
function stripAnnotations(md: FileMetaData, tree: SchemaTree): FileMetaData {
  const strip = new Set<SchemaElement>();
  const visit = (node: SchemaTree): void => {
    const e = node.element;
    if (e.converted_type === 'DECIMAL' || e.logical_type?.type === 'DECIMAL' || isMap(node)) strip.add(e);
    node.children.forEach(visit);
  };
  visit(tree);
  if (strip.size === 0) return md;
  return {
    ...md,
    schema: md.schema.map((e) => (strip.has(e) ? { ...e, converted_type: undefined, logical_type: undefined } : e)),
  };
}

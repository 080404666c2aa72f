/**
 * Parquet reading through the ObjectStore, with hyparquet (pure JS).
 *
 * Values come back "raw but lossless": timestamps as bigint microseconds,
 * dates as day numbers, decimals as their unscaled integer (number, bigint or
 * big-endian bytes; hyparquet would turn them into lossy floats, so the
 * DECIMAL annotation is stripped before decoding), binary as Uint8Array,
 * annotated strings as strings. The Delta layer maps them onto its schema.
 */
import { parquetMetadataAsync, parquetReadObjects, type AsyncBuffer, type FileMetaData } from 'hyparquet';
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
  // Small objects are fetched whole: one request instead of footer + chunks.
  let file: AsyncBuffer;
  try {
    if (byteLength <= 4 * 1024 * 1024) {
      const bytes = await store.get(path);
      byteLength = bytes.byteLength;
      file = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
    } else {
      file = storeBuffer(store, path, byteLength);
    }
  } catch (err) {
    if (isNotFound(err)) {
      throw new ReddStreamError(
        'MISSING_DATA_FILE',
        `Parquet file not found: ${store.url}/${path} (the log references it but it is gone; was it vacuumed or deleted by hand?)`,
        { cause: err },
      );
    }
    throw err;
  }
  let metadata: FileMetaData;
  try {
    metadata = await parquetMetadataAsync(file);
  } catch (err) {
    throw new ReddStreamError(
      'CORRUPT_DATA_FILE',
      `not a readable Parquet file: ${store.url}/${path} (${(err as Error).message})`,
      { cause: err },
    );
  }
  metadata = stripDecimalAnnotations(metadata);
  const columns: string[] = [];
  {
    // top-level children of the root schema element
    const schema = metadata.schema;
    let i = 1;
    const skip = (idx: number): number => {
      const n = schema[idx].num_children ?? 0;
      let next = idx + 1;
      for (let c = 0; c < n; c++) next = skip(next);
      return next;
    };
    while (i < schema.length) {
      columns.push(schema[i].name);
      i = skip(i);
    }
  }
  return {
    path,
    metadata,
    numRows: Number(metadata.num_rows),
    columns,
    async readRows(wanted?: string[]) {
      const cols = wanted?.filter((c) => columns.includes(c));
      if (wanted && cols && cols.length === 0) return Array.from({ length: Number(metadata.num_rows) }, () => ({}));
      try {
        return (await parquetReadObjects({
          file,
          metadata,
          columns: cols,
          compressors,
          utf8: false,
          parsers: PARSERS,
        })) as Record<string, unknown>[];
      } catch (err) {
        throw new ReddStreamError(
          'CORRUPT_DATA_FILE',
          `failed to decode Parquet file ${store.url}/${path}: ${(err as Error).message}`,
          { cause: err },
        );
      }
    },
  };
}

function stripDecimalAnnotations(md: FileMetaData): FileMetaData {
  if (!md.schema.some((e) => e.converted_type === 'DECIMAL' || e.logical_type?.type === 'DECIMAL')) return md;
  return {
    ...md,
    schema: md.schema.map((e) =>
      e.converted_type === 'DECIMAL' || e.logical_type?.type === 'DECIMAL'
        ? { ...e, converted_type: undefined, logical_type: undefined }
        : e,
    ),
  };
}

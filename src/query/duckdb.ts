/**
 * SQL over Delta tables with DuckDB: every table becomes a view over the
 * snapshot's live data files only (never a directory glob, which would
 * include removed files), with partition columns as typed literals and
 * columns missing from older files as typed NULLs. Files are pruned by
 * partition values and by min/max stats for simple predicates (see
 * `prune.ts`). DuckDB's built-in parquet, json and icu extensions are used;
 * nothing is downloaded at run time.
 */
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as nodePath from 'node:path';
import { dataFilePath, type Add } from '../delta/actions.ts';
import type { DataType, StructType } from '../delta/schema.ts';
import type { Snapshot } from '../delta/snapshot.ts';
import { formatDate, formatTimestampMicros, parsePartitionValue, toHex, type DeltaValue } from '../delta/values.ts';
import { LocalObjectStore } from '../storage/local.ts';

export function duckType(t: DataType): string {
  switch (t.kind) {
    case 'decimal':
      return `DECIMAL(${Math.min(t.precision, 38)},${t.scale})`;
    case 'struct':
      return `STRUCT(${t.fields.map((f) => `${ident(f.name)} ${duckType(f.type)}`).join(', ')})`;
    case 'array':
      return `${duckType(t.elementType)}[]`;
    case 'map':
      return `MAP(${duckType(t.keyType)}, ${duckType(t.valueType)})`;
    case 'primitive':
      return {
        string: 'VARCHAR',
        long: 'BIGINT',
        integer: 'INTEGER',
        short: 'SMALLINT',
        byte: 'TINYINT',
        float: 'FLOAT',
        double: 'DOUBLE',
        boolean: 'BOOLEAN',
        binary: 'BLOB',
        date: 'DATE',
        timestamp: 'TIMESTAMPTZ',
        timestamp_ntz: 'TIMESTAMP',
      }[t.name];
  }
}

export function ident(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

export function str(s: string): string {
  return `'${s.replace(/'/g, "''")}'`;
}

/** SQL literal of a typed Delta value. */
export function literal(v: DeltaValue, t: DataType): string {
  if (v === null) return `CAST(NULL AS ${duckType(t)})`;
  if (t.kind === 'decimal') return `CAST(${str(String(v))} AS ${duckType(t)})`;
  if (t.kind !== 'primitive') throw new Error('non-primitive literal');
  switch (t.name) {
    case 'string':
      return str(v as string);
    case 'boolean':
      return v ? 'TRUE' : 'FALSE';
    case 'binary':
      return `unhex(${str(toHex(v as Uint8Array))})`;
    case 'date':
      return `DATE ${str(formatDate(v as number))}`;
    case 'timestamp':
      return `TIMESTAMPTZ ${str(formatTimestampMicros(v as bigint) + 'Z')}`;
    case 'timestamp_ntz':
      return `TIMESTAMP ${str(formatTimestampMicros(v as bigint))}`;
    case 'float':
    case 'double':
      return Number.isFinite(v as number)
        ? `CAST(${String(v)} AS ${duckType(t)})`
        : `CAST(${str(String(v))} AS ${duckType(t)})`;
    default:
      return `CAST(${String(v)} AS ${duckType(t)})`;
  }
}

export interface QuerySession {
  connection: DuckDBConnection;
  close(): void;
}

export async function openSession(): Promise<QuerySession> {
  const instance = await DuckDBInstance.create(':memory:', {
    autoinstall_known_extensions: 'false',
    autoload_known_extensions: 'false',
  });
  const connection = await instance.connect();
  await connection.run("SET TimeZone = 'UTC'");
  return {
    connection,
    close() {
      connection.closeSync();
      instance.closeSync();
    },
  };
}

/**
 * Absolute local path of a data file. Remote (S3) files are fetched into a
 * local cache first, keyed by table and path (data files are immutable), so
 * DuckDB needs no network extension.
 */
async function filePath(snapshot: Snapshot, add: Add, cacheDir: string): Promise<string> {
  const store = snapshot.store;
  const rel = dataFilePath(add, store.url);
  if (store instanceof LocalObjectStore) return nodePath.join(store.root, ...rel.split('/'));
  const key = createHash('sha256').update(`${store.url}/${rel}`).digest('hex').slice(0, 32);
  const local = nodePath.join(cacheDir, `${key}.parquet`);
  const st = await fs.stat(local).catch(() => null);
  if (!st || st.size !== add.size) {
    const bytes = await store.get(rel);
    await fs.mkdir(cacheDir, { recursive: true });
    const tmp = `${local}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
    await fs.writeFile(tmp, bytes);
    await fs.rename(tmp, local);
  } else {
    // Recently used files are evicted last.
    const now = new Date();
    await fs.utimes(local, now, now).catch(() => undefined);
  }
  return local;
}

export const DEFAULT_QUERY_CACHE = nodePath.join(os.tmpdir(), 'reddit-stream-query-cache');
export const DEFAULT_QUERY_CACHE_MAX_BYTES = 2 * 1024 ** 3;

/**
 * Keep the query cache under `maxBytes`: delete the least recently used
 * cached files first, never one in `inUse` (files the current query reads)
 * nor one used in the last `minIdleMs` (another query may be about to read
 * it). Returns the bytes deleted.
 */
export async function pruneQueryCache(
  cacheDir: string,
  maxBytes: number,
  inUse: ReadonlySet<string> = new Set(),
  minIdleMs = 10 * 60_000,
): Promise<number> {
  const names = await fs.readdir(cacheDir).catch(() => [] as string[]);
  const files: Array<{ path: string; size: number; used: number }> = [];
  for (const name of names) {
    if (!name.endsWith('.parquet')) continue;
    const path = nodePath.join(cacheDir, name);
    const st = await fs.stat(path).catch(() => null);
    if (st?.isFile()) files.push({ path, size: st.size, used: st.mtimeMs });
  }
  let total = files.reduce((n, f) => n + f.size, 0);
  let deleted = 0;
  for (const f of files.sort((a, b) => a.used - b.used)) {
    if (total <= maxBytes) break;
    if (inUse.has(f.path) || Date.now() - f.used < minIdleMs) continue;
    if (
      await fs.rm(f.path).then(
        () => true,
        () => false,
      )
    ) {
      total -= f.size;
      deleted += f.size;
    }
  }
  return deleted;
}

/** Create a view `name` over the snapshot's live files (after pruning with `keep`). */
export async function registerTable(
  session: QuerySession,
  name: string,
  snapshot: Snapshot,
  keep: (add: Add) => boolean = () => true,
  cacheDir = DEFAULT_QUERY_CACHE,
): Promise<{ files: number; pruned: number; paths: string[] }> {
  const schema: StructType = snapshot.schema;
  const partCols = new Set(snapshot.partitionColumns);
  const all = snapshot.files();
  const files = all.filter(keep);
  const empty = `SELECT ${schema.fields.map((f) => `CAST(NULL AS ${duckType(f.type)}) AS ${ident(f.name)}`).join(', ')} WHERE FALSE`;
  if (files.length === 0) {
    await session.connection.run(`CREATE OR REPLACE VIEW ${ident(name)} AS ${empty}`);
    return { files: 0, pruned: all.length, paths: [] };
  }
  // Local paths of the files (remote ones fetched, 8 at a time).
  const local = new Array<string>(files.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(8, files.length) }, async () => {
      while (next < files.length) {
        const i = next++;
        local[i] = await filePath(snapshot, files[i], cacheDir);
      }
    }),
  );
  // Group by partition values: one read_parquet per group.
  const groups = new Map<string, { values: Record<string, string | null>; paths: string[] }>();
  files.forEach((add, i) => {
    const k = JSON.stringify(snapshot.partitionColumns.map((c) => add.partitionValues[c] ?? null));
    let g = groups.get(k);
    if (!g) groups.set(k, (g = { values: add.partitionValues, paths: [] }));
    g.paths.push(local[i]);
  });
  const selects: string[] = [];
  for (const g of groups.values()) {
    const list = `[${g.paths.map(str).join(', ')}]`;
    const source = `read_parquet(${list}, union_by_name = true)`;
    const desc = await session.connection.runAndReadAll(`DESCRIBE SELECT * FROM ${source}`);
    const present = new Map(
      desc.getRowObjectsJson().map((r) => [String(r.column_name).toLowerCase(), String(r.column_name)]),
    );
    const cols = schema.fields.map((f) => {
      if (partCols.has(f.name)) {
        return `${literal(parsePartitionValue(g.values[f.name] ?? null, f.type), f.type)} AS ${ident(f.name)}`;
      }
      const phys = present.get(f.name.toLowerCase());
      return phys === undefined
        ? `CAST(NULL AS ${duckType(f.type)}) AS ${ident(f.name)}`
        : `CAST(${ident(phys)} AS ${duckType(f.type)}) AS ${ident(f.name)}`;
    });
    selects.push(`SELECT ${cols.join(', ')} FROM ${source}`);
  }
  await session.connection.run(`CREATE OR REPLACE VIEW ${ident(name)} AS ${selects.join(' UNION ALL ')}`);
  return { files: files.length, pruned: all.length - files.length, paths: local };
}

/** `reddit-stream query`: SQL over Delta tables with DuckDB. */
import * as fs from 'node:fs';
import * as nodePath from 'node:path';
import { ReddStreamError } from '../errors.ts';
import { loadSnapshot } from '../delta/snapshot.ts';
import { LOG_DIR } from '../delta/log-path.ts';
import {
  DEFAULT_QUERY_CACHE,
  DEFAULT_QUERY_CACHE_MAX_BYTES,
  openSession,
  type QuerySession,
  pruneQueryCache,
  registerTable,
  str,
} from '../query/duckdb.ts';
import { extractPredicates, fileMayMatch } from '../query/prune.ts';
import { isS3Uri, openStore, S3ObjectStore, type S3StoreOptions } from '../storage/index.ts';
import { csvLine, renderTable } from './format.ts';

export interface QueryCliOptions {
  root?: string;
  table?: string;
  version?: number;
  sql: string;
  format?: 'table' | 'csv' | 'ndjson';
  s3?: S3StoreOptions;
  /** Local cache of remote data files (default: the system temp dir) and its size limit (default 2 GiB). */
  cacheDir?: string;
  cacheMaxBytes?: number;
  /** Called with pruning figures per table (for --explain and tests). */
  onPrune?: (table: string, files: number, pruned: number) => void;
}

/** Tables under a root: sub-directories that hold a `_delta_log/`. */
export function discoverTables(root: string): Map<string, string> {
  if (!fs.existsSync(root)) throw new ReddStreamError('USAGE', `table root not found: ${root}`);
  const out = new Map<string, string>();
  for (const e of fs.readdirSync(root, { withFileTypes: true })) {
    if (e.isDirectory() && fs.existsSync(nodePath.join(root, e.name, LOG_DIR))) {
      out.set(e.name, nodePath.join(root, e.name));
    }
  }
  return out;
}

/** Tables under an S3 prefix: sub-prefixes holding `_delta_log/`. */
export async function discoverS3Tables(root: string, s3?: S3StoreOptions): Promise<Map<string, string>> {
  const store = new S3ObjectStore(root, s3);
  const out = new Map<string, string>();
  for (const m of await store.list('')) {
    const i = m.path.indexOf(`/${LOG_DIR}/`);
    if (i > 0 && !m.path.slice(0, i).includes('/')) out.set(m.path.slice(0, i), `${store.url}/${m.path.slice(0, i)}`);
  }
  return out;
}

function cell(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'string') return v;
  return JSON.stringify(v);
}

export async function queryLines(opts: QueryCliOptions): Promise<string[]> {
  checkTableOptions(opts);
  const tables = await tablesToQuery(opts);
  const session = await openSession();
  try {
    const target = await pruningTarget(session, opts.sql);
    const cacheDir = opts.cacheDir ?? DEFAULT_QUERY_CACHE;
    const inUse = await registerTables(session, tables, target, cacheDir, opts);
    // Remote files are cached locally; keep the cache bounded (files this query reads stay).
    await pruneQueryCache(cacheDir, opts.cacheMaxBytes ?? DEFAULT_QUERY_CACHE_MAX_BYTES, inUse);
    const reader = await runQuery(session, opts.sql, tables);
    return formatRows(reader.columnNames(), reader.getRowObjectsJson(), opts.format ?? 'table');
  } finally {
    session.close();
  }
}

function checkTableOptions(opts: QueryCliOptions): void {
  if (!!opts.root === !!opts.table) {
    throw new ReddStreamError(
      'USAGE',
      'give exactly one of --root <dir> (every table under it, named by folder) or --table <dir>',
    );
  }
  if (opts.version !== undefined && !opts.table) {
    throw new ReddStreamError('USAGE', '--version needs --table (tables under a root have different versions)');
  }
}

/** The tables the query may read, by name: the one --table, or every table under --root. */
async function tablesToQuery(opts: QueryCliOptions): Promise<Map<string, string>> {
  if (opts.table) return new Map([[opts.table.replace(/\/+$/, '').split('/').pop()!, opts.table]]);
  return isS3Uri(opts.root!) ? await discoverS3Tables(opts.root!, opts.s3) : discoverTables(opts.root!);
}

type PruningTarget = ReturnType<typeof extractPredicates>;

/** The table and predicates files can be pruned by, from DuckDB's parse of the SQL (null: prune nothing). */
async function pruningTarget(session: QuerySession, sql: string): Promise<PruningTarget> {
  try {
    const parsed = await session.connection.runAndReadAll(`SELECT json_serialize_sql(${str(sql)})`);
    return extractPredicates(JSON.parse(String(parsed.getRows()[0][0])));
  } catch {
    return null;
  }
}

/** Make each table available as a view, pruned by the target's predicates; returns the cached files in use. */
async function registerTables(
  session: QuerySession,
  tables: Map<string, string>,
  target: PruningTarget,
  cacheDir: string,
  opts: QueryCliOptions,
): Promise<Set<string>> {
  const inUse = new Set<string>();
  for (const [name, location] of tables) {
    const snap = await loadSnapshot(openStore(location, opts.s3), { version: opts.version, withoutTombstones: true });
    const preds = target && target.table.toLowerCase() === name.toLowerCase() ? target.predicates : [];
    const r = await registerTable(
      session,
      name,
      snap,
      preds.length ? (a) => fileMayMatch(a, preds, snap.schema, snap.partitionColumns) : undefined,
      cacheDir,
    );
    for (const p of r.paths) inUse.add(p);
    opts.onPrune?.(name, r.files, r.pruned);
  }
  return inUse;
}

async function runQuery(session: QuerySession, sql: string, tables: Map<string, string>) {
  try {
    return await session.connection.runAndReadAll(sql);
  } catch (err) {
    const names = [...tables.keys()];
    throw new ReddStreamError(
      'QUERY_FAILED',
      `query failed: ${(err as Error).message.split('\n')[0]} (tables: ${names.length ? names.join(', ') : 'none found'})`,
    );
  }
}

function formatRows(
  columns: string[],
  rows: Record<string, unknown>[],
  format: NonNullable<QueryCliOptions['format']>,
): string[] {
  if (format === 'ndjson') return rows.map((r) => JSON.stringify(r));
  if (format === 'csv') return [csvLine(columns), ...rows.map((r) => csvLine(columns.map((c) => cell(r[c]))))];
  return renderTable(
    columns,
    rows.map((r) => columns.map((c) => cell(r[c]))),
  );
}

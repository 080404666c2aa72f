/** `reddit-stream optimize` and `vacuum`: table maintenance by hand, for one table or every table under a root. */
import { optimizeTable, type OptimizeResult } from '../delta/optimize.ts';
import { loadSnapshot } from '../delta/snapshot.ts';
import { DeltaTable } from '../delta/table.ts';
import { vacuum, type VacuumResult } from '../delta/vacuum.ts';
import { ReddStreamError } from '../errors.ts';
import { isS3Uri, openStore, type S3StoreOptions } from '../storage/index.ts';
import { discoverS3Tables, discoverTables } from './query.ts';

export interface Target {
  table?: string;
  root?: string;
  s3?: S3StoreOptions;
}

/** The tables a command acts on: one, or every table under a root, by name. */
export async function tablesOf(t: Target): Promise<Array<[string, string]>> {
  if (!!t.table === !!t.root) {
    throw new ReddStreamError('USAGE', 'give exactly one of <table> or --root <dir> (every table under it)');
  }
  if (t.table) return [[t.table, t.table]];
  const found = isS3Uri(t.root!) ? await discoverS3Tables(t.root!, t.s3) : discoverTables(t.root!);
  return [...found].sort(([a], [b]) => (a < b ? -1 : 1));
}

const mb = (bytes: number) => `${(bytes / 1e6).toFixed(2)} MB`;

function optimizeLine(name: string, r: OptimizeResult): string {
  if (r.kind === 'nothing to do') return `${name}: nothing to compact (version ${r.version})`;
  if (r.kind === 'conflict') return `${name}: gave way to a concurrent change, nothing committed (${r.reason})`;
  return (
    `${name}: version ${r.version}: ${r.filesRemoved} files (${mb(r.bytesRemoved)}) -> ${r.filesAdded} ` +
    `(${mb(r.bytesAdded)}), ${r.rows} rows` +
    (r.checkpointError ? `; checkpoint failed: ${r.checkpointError.message}` : '')
  );
}

export async function optimizeLines(t: Target & { maxRewriteMb?: number }): Promise<string[]> {
  const out: string[] = [];
  for (const [name, uri] of await tablesOf(t)) {
    const table = await DeltaTable.open(openStore(uri, t.s3));
    const overrides = t.maxRewriteMb === undefined ? {} : { maxRewriteBytes: t.maxRewriteMb * 1024 * 1024 };
    out.push(optimizeLine(name, await optimizeTable(table, overrides)));
  }
  return out;
}

function vacuumLines1(name: string, r: VacuumResult): string[] {
  const verb = r.dryRun ? 'would delete' : 'deleted';
  const hours = r.retentionMs / 3_600_000;
  return [
    `${name}: ${verb} ${r.files.length} files (${mb(r.bytes)}), retention ${hours} hours`,
    ...(r.dryRun ? r.files.map((f) => `  ${f}`) : []),
  ];
}

export async function vacuumLines(
  t: Target & { retainHours?: number; dryRun?: boolean; full?: boolean; force?: boolean },
): Promise<string[]> {
  const out: string[] = [];
  for (const [name, uri] of await tablesOf(t)) {
    const store = openStore(uri, t.s3);
    const snap = await loadSnapshot(store);
    const r = await vacuum(snap, store, { retainHours: t.retainHours, dryRun: t.dryRun, full: t.full, force: t.force });
    out.push(...vacuumLines1(name, r));
  }
  return out;
}

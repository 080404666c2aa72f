/**
 * Compaction (OPTIMIZE): rewrite a table's small data files into fewer,
 * larger ones, per partition, in one commit of `remove` + `add` actions with
 * `dataChange: false` (readers of the change feed and streaming readers skip
 * it: no row was added or deleted).
 *
 * Invariants:
 * - Rows are preserved exactly: the new files hold the rows of the files
 *   they replace, read at the snapshot the plan was made on; the commit
 *   removes exactly those files, so any row another writer added meanwhile
 *   is in a file this commit does not touch.
 * - `txn` actions are untouched: a streaming writer's exactly-once position
 *   is never moved by compaction.
 * - Concurrent blind appends commute: a lost commit race against them is
 *   retried at the next version. A concurrent commit that removed one of the
 *   files we rewrite (another compaction, a delete) or changed the metadata
 *   is a conflict, returned as a value; the files we wrote are deleted.
 * - A crash at any point leaves at most data files no version references
 *   (vacuum removes them); the table is unchanged until the commit lands.
 * - The plan, the rows read and the commit's read version are one snapshot;
 *   a commit after it that removed a planned file is a conflict.
 * - Memory is bounded by `maxRewriteBytes`: one bin of input files is read
 *   and rewritten at a time, and its output uploaded before the next.
 *
 * Planning is pure (`planCompaction`): small files, oldest first, bin-packed
 * up to the bin size. Tiered (automatic) compaction bins only files of one
 * size tier (sizes within a factor of 8 of each other) together, so each row
 * is rewritten a few times over its life (once per tier), not every time a
 * few new files arrive.
 */
import type { Add, Remove } from './actions.ts';
import { ReddStreamError } from '../errors.ts';
import { scanRows, type Row } from './scan.ts';
import { nameDataFiles, rowsToBatch, type DeltaTable } from './table.ts';
import { encodeDataFiles } from './data-files.ts';
import { commit } from './transaction.ts';
import type { Snapshot } from './snapshot.ts';
import { checkWriteSupported } from './features.ts';

export interface CompactionSettings {
  /** Size the rewritten files aim for (`delta.targetFileSize`, default 128 MiB). */
  targetFileBytes: number;
  /** Input bytes rewritten at once: bounds memory, and so the size of a rewritten file (default 32 MiB). */
  maxRewriteBytes: number;
  /** A partition is compacted when it holds at least this many small files (default 2 for `optimize`). */
  minFiles: number;
  /**
   * Bin only files of one size tier together (default false: all small files
   * of a partition). Frequent automatic compaction uses tiers, so a row is
   * rewritten about once per tier instead of at every compaction.
   */
  tiered: boolean;
}

export const DEFAULT_TARGET_FILE_BYTES = 128 * 1024 * 1024;
export const DEFAULT_MAX_REWRITE_BYTES = 32 * 1024 * 1024;

/** One rewrite: small files of one partition and size tier, read and written together. */
export interface Bin {
  partition: string;
  files: Add[];
  bytes: number;
}

export type OptimizeResult =
  | {
      kind: 'optimized';
      version: number;
      filesRemoved: number;
      filesAdded: number;
      bytesRemoved: number;
      bytesAdded: number;
      rows: number;
      checkpointError?: Error;
    }
  | { kind: 'nothing to do'; version: number }
  | { kind: 'conflict'; version: number; reason: string };

/** The settings in force for a table: its properties, then `overrides`. */
export function compactionSettings(
  tableProperty: (key: string) => string | undefined,
  overrides: Partial<CompactionSettings> = {},
): CompactionSettings {
  const target = Number(tableProperty('delta.targetFileSize'));
  return {
    targetFileBytes: overrides.targetFileBytes ?? (target > 0 ? target : DEFAULT_TARGET_FILE_BYTES),
    maxRewriteBytes: overrides.maxRewriteBytes ?? DEFAULT_MAX_REWRITE_BYTES,
    minFiles: overrides.minFiles ?? 2,
    tiered: overrides.tiered ?? false,
  };
}

/** Bytes a bin may hold: the target size, within the memory bound. */
export function binBytes(s: CompactionSettings): number {
  return Math.min(s.targetFileBytes, s.maxRewriteBytes);
}

/** A file worth rewriting: well below the bin size. */
export function isSmall(add: Add, s: CompactionSettings): boolean {
  return add.size < binBytes(s) * 0.75 && !add.deletionVector;
}

const partitionKey = (add: Add, partitionColumns: string[]) =>
  JSON.stringify(partitionColumns.map((c) => add.partitionValues[c] ?? null));

/** Small files per partition (pure). */
export function smallFilesByPartition(
  files: Add[],
  partitionColumns: string[],
  s: CompactionSettings,
): Map<string, Add[]> {
  const out = new Map<string, Add[]>();
  for (const f of files) {
    if (!isSmall(f, s)) continue;
    const k = partitionKey(f, partitionColumns);
    let list = out.get(k);
    if (!list) out.set(k, (list = []));
    list.push(f);
  }
  return out;
}

/** Whether some partition holds at least `minFiles` small files (pure). */
export function needsCompaction(files: Add[], partitionColumns: string[], s: CompactionSettings): boolean {
  for (const list of smallFilesByPartition(files, partitionColumns, s).values()) {
    if (list.length >= s.minFiles) return true;
  }
  return false;
}

const TIER_BASE_BYTES = 64 * 1024;
const TIER_FACTOR = 8;

/** Size tier of a file: 0 below 64 KiB, then one tier per factor of 8. */
export function sizeTier(bytes: number): number {
  return bytes < TIER_BASE_BYTES ? 0 : 1 + Math.floor(Math.log(bytes / TIER_BASE_BYTES) / Math.log(TIER_FACTOR));
}

/**
 * The rewrites to do (pure): in each partition with at least `minFiles`
 * small files, the small files (of each size tier, when tiered), oldest
 * first, packed into bins of up to `binBytes`; bins of one file are left alone.
 */
export function planCompaction(files: Add[], partitionColumns: string[], s: CompactionSettings): Bin[] {
  const bins: Bin[] = [];
  const limit = binBytes(s);
  for (const [partition, small] of smallFilesByPartition(files, partitionColumns, s)) {
    if (small.length < s.minFiles) continue;
    const tiers = new Map<number, Add[]>();
    for (const f of small) {
      const t = s.tiered ? sizeTier(f.size) : 0;
      tiers.set(t, [...(tiers.get(t) ?? []), f]);
    }
    for (const tier of [...tiers.keys()].sort((a, b) => a - b)) {
      const inTier = tiers.get(tier)!.sort((a, b) => a.modificationTime - b.modificationTime);
      let bin: Bin = { partition, files: [], bytes: 0 };
      for (const f of inTier) {
        if (bin.files.length > 0 && bin.bytes + f.size > limit) {
          if (bin.files.length > 1) bins.push(bin);
          bin = { partition, files: [], bytes: 0 };
        }
        bin.files.push(f);
        bin.bytes += f.size;
      }
      if (bin.files.length > 1) bins.push(bin);
    }
  }
  return bins;
}

/**
 * Compact `table` (see the module's invariants). `overrides` replace the
 * table's settings; the default `minFiles` of 2 compacts any partition with
 * two small files.
 */
export async function optimizeTable(
  table: DeltaTable,
  overrides: Partial<CompactionSettings> = {},
): Promise<OptimizeResult> {
  const snap = await table.refresh();
  // Tables with features this writer does not know (deletion vectors, column mapping...) are refused.
  checkWriteSupported(snap.protocol, snap.metadata, snap.schema, table.store.url);
  const settings = compactionSettings((k) => snap.tableProperty(k), overrides);
  const bins = planCompaction(snap.files(), snap.partitionColumns, settings);
  if (bins.length === 0) return { kind: 'nothing to do', version: snap.version };
  const written: Add[] = [];
  let rows = 0;
  try {
    for (const bin of bins) rows += await rewriteBin(table, snap, bin, written);
  } catch (err) {
    await table.deleteFiles(written);
    throw err;
  }
  return commitRewrite(table, snap, bins, written, rows, settings);
}

/** Read a bin's rows, write them as new files (uploaded now), and return how many rows they hold. */
async function rewriteBin(table: DeltaTable, snap: Snapshot, bin: Bin, written: Add[]): Promise<number> {
  const paths = new Set(bin.files.map((f) => f.path));
  const rows: Row[] = [];
  for await (const row of scanRows(snap, { fileFilter: (a) => paths.has(a.path) })) rows.push(row);
  const encoded = await encodeDataFiles(snap.schema, snap.partitionColumns, rowsToBatch(snap.schema, rows), {
    ...table.encodeSettings(),
    encode: (schema, columns, numRows, opts) => table.encoder.encode(schema, columns, numRows, opts),
  });
  for (const f of nameDataFiles(encoded, false)) {
    await table.store.put(f.path, f.bytes);
    written.push(f.add);
  }
  return rows.length;
}

/** The rewrite's commit: every bin's removes and adds at once. */
async function commitRewrite(
  table: DeltaTable,
  snap: Snapshot,
  bins: Bin[],
  written: Add[],
  rows: number,
  settings: CompactionSettings,
): Promise<OptimizeResult> {
  const now = Date.now();
  const removed = bins.flatMap((b) => b.files);
  const removes = removed.map((f): { remove: Remove } => ({
    remove: {
      path: f.path,
      deletionTimestamp: now,
      dataChange: false,
      extendedFileMetadata: true,
      partitionValues: f.partitionValues,
      size: f.size,
    },
  }));
  const bytesRemoved = removed.reduce((n, f) => n + f.size, 0);
  const bytesAdded = written.reduce((n, f) => n + f.size, 0);
  const commitInfo = {
    operation: 'OPTIMIZE',
    operationParameters: { predicate: '[]', targetSize: String(binBytes(settings)) },
    operationMetrics: {
      numRemovedFiles: String(removed.length),
      numAddedFiles: String(written.length),
      numRemovedBytes: String(bytesRemoved),
      numAddedBytes: String(bytesAdded),
    },
    isBlindAppend: false,
    engineInfo: 'reddit-stream',
  };
  let res;
  try {
    res = await commit(table.store, snap.version, [...removes, ...written.map((add) => ({ add }))], commitInfo);
  } catch (err) {
    // Only a definite failure (too many lost races) proves the commit did not land; otherwise the files stay.
    if (err instanceof ReddStreamError && err.code === 'COMMIT_FAILED') await table.deleteFiles(written);
    throw err;
  }
  if (res.kind === 'conflict') {
    await table.deleteFiles(written);
    return { kind: 'conflict', version: res.version, reason: res.reason };
  }
  const checkpointError = await table.afterCommit(snap, res.version);
  return {
    kind: 'optimized',
    version: res.version,
    filesRemoved: removed.length,
    filesAdded: written.length,
    bytesRemoved,
    bytesAdded,
    rows,
    ...(checkpointError ? { checkpointError } : {}),
  };
}

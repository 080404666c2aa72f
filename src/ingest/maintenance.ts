/**
 * Automatic table maintenance for the writers of the product (`consume`,
 * `load`, spool replay): after a commit, a table whose partitions hold
 * enough small files is compacted in the background (delta/optimize.ts).
 *
 * Invariants:
 * - Ingestion never waits for it: the check after a commit is pure and
 *   cheap (the snapshot's file list); the compaction runs on its own table
 *   instance, so it never moves the snapshot the ingest reads positions from.
 * - Exactly-once is untouched: compaction carries no `txn`, and it commutes
 *   with the ingest's appends (their lost races are retried; see optimize.ts).
 * - At most one compaction per table at a time; a failure or conflict is
 *   logged and tried again after a later commit.
 */
import { DeltaTable } from '../delta/table.ts';
import { compactionSettings, needsCompaction, optimizeTable, type CompactionSettings } from '../delta/optimize.ts';
import { describeError } from '../errors.ts';
import type { Logger } from '../logger.ts';

export interface MaintenanceOptions {
  log: Logger;
  /** Compact automatically (default true). */
  compact?: boolean;
  /** Small files in a partition that start a compaction (default 50). */
  minFiles?: number;
  /** Input bytes rewritten at once: bounds the memory a compaction takes (default 16 MiB). */
  maxRewriteBytes?: number;
}

export const DEFAULT_COMPACT_MIN_FILES = 50;
export const DEFAULT_SERVICE_REWRITE_BYTES = 16 * 1024 * 1024;

export class Maintenance {
  private readonly o: MaintenanceOptions;
  private readonly running = new Map<string, Promise<void>>();
  /** Compactions done since start, for summaries and tests. */
  compactions = 0;

  constructor(o: MaintenanceOptions) {
    this.o = o;
  }

  private settings(table: DeltaTable): CompactionSettings {
    return compactionSettings((k) => table.snapshot.tableProperty(k), {
      minFiles: this.o.minFiles ?? DEFAULT_COMPACT_MIN_FILES,
      maxRewriteBytes: this.o.maxRewriteBytes ?? DEFAULT_SERVICE_REWRITE_BYTES,
    });
  }

  /** A commit to `table` landed: start its compaction when it is due (and none runs). */
  afterCommit(table: DeltaTable): void {
    if (this.o.compact === false) return;
    const key = table.store.url;
    if (this.running.has(key)) return;
    const snap = table.snapshot;
    const settings = this.settings(table);
    if (!needsCompaction(snap.files(), snap.partitionColumns, settings)) return;
    const run = this.compact(table, settings).finally(() => this.running.delete(key));
    this.running.set(key, run);
  }

  private async compact(table: DeltaTable, settings: CompactionSettings): Promise<void> {
    const { log } = this.o;
    const started = performance.now();
    try {
      const own = await DeltaTable.open(table.store);
      own.encoder = table.encoder;
      const r = await optimizeTable(own, settings);
      const ms = Math.round(performance.now() - started);
      if (r.kind === 'optimized') {
        this.compactions++;
        log.info('compacted', {
          table: table.store.url,
          version: r.version,
          files_in: r.filesRemoved,
          files_out: r.filesAdded,
          mb_in: (r.bytesRemoved / 1e6).toFixed(2),
          mb_out: (r.bytesAdded / 1e6).toFixed(2),
          rows: r.rows,
          ms,
        });
        if (r.checkpointError) log.warn('checkpoint failed after compaction', { error: r.checkpointError.message });
      } else if (r.kind === 'conflict') {
        log.info('compaction gave way to a concurrent change; tried again after a later commit', {
          table: table.store.url,
          reason: r.reason,
        });
      }
    } catch (err) {
      log.warn('compaction failed; the table is unchanged, tried again after a later commit', {
        table: table.store.url,
        error: describeError(err),
      });
    }
  }

  /** Wait for running compactions (before exiting). */
  async idle(): Promise<void> {
    await Promise.all(this.running.values());
  }
}

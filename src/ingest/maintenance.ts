/**
 * Automatic table maintenance for the writers of the product (`consume`,
 * `load`, spool replay). After a commit, in the background:
 * - a table whose partitions hold enough small files is compacted
 *   (delta/optimize.ts);
 * - expired log files are deleted, at most once an hour per table
 *   (delta/log-cleanup.ts);
 * - the table is vacuumed in full mode with its own retention at the first
 *   commit after start and then once a day (delta/vacuum.ts).
 *
 * Invariants:
 * - Ingestion never waits for it: the check after a commit is pure and
 *   cheap (the snapshot's file list); the compaction runs on its own table
 *   instance, so it never moves the snapshot the ingest reads positions from.
 * - Exactly-once is untouched: compaction carries no `txn`, and it commutes
 *   with the ingest's appends (their lost races are retried; see optimize.ts).
 * - At most one maintenance task per table at a time; a failure or conflict
 *   is logged and tried again after a later commit.
 */
import { DeltaTable } from '../delta/table.ts';
import { compactionSettings, needsCompaction, optimizeTable, type CompactionSettings } from '../delta/optimize.ts';
import { describeError } from '../errors.ts';
import { cleanUpExpiredLogs } from '../delta/log-cleanup.ts';
import { loadSnapshot } from '../delta/snapshot.ts';
import { vacuum } from '../delta/vacuum.ts';
import type { Logger } from '../logger.ts';

export interface MaintenanceOptions {
  log: Logger;
  /** Compact automatically (default true). */
  compact?: boolean;
  /** Small files in a partition that start a compaction (default 50). */
  minFiles?: number;
  /** Input bytes rewritten at once: bounds the memory a compaction takes (default 16 MiB). */
  maxRewriteBytes?: number;
  /** Delete expired log files (default true). */
  logCleanup?: boolean;
  /** Vacuum every this many ms (default a day; 0: never). */
  vacuumEveryMs?: number;
  clock?: () => number;
  /** Told of every task run (metrics, status). */
  onStep?: (e: MaintenanceEvent) => void;
}

export type MaintenanceTask = 'compaction' | 'vacuum' | 'log cleanup';

/** What one maintenance task did. */
export interface MaintenanceEvent {
  /** The table's location. */
  table: string;
  task: MaintenanceTask;
  outcome: 'done' | 'nothing to do' | 'conflict' | 'failed';
  /** Data files (compaction, vacuum) or log files (log cleanup) removed or deleted, and added. */
  filesRemoved: number;
  filesAdded: number;
  bytesRemoved: number;
  bytesAdded: number;
  ms: number;
}

/** A task's result: what it changed, and the fields its log line shows when it did something. */
type StepResult = Pick<MaintenanceEvent, 'outcome'> &
  Partial<Pick<MaintenanceEvent, 'filesRemoved' | 'filesAdded' | 'bytesRemoved' | 'bytesAdded'>> & {
    details?: Record<string, unknown>;
  };

const NOTHING_DONE: StepResult = { outcome: 'nothing to do' };

const HOUR = 3_600_000;

export const DEFAULT_COMPACT_MIN_FILES = 50;
export const DEFAULT_SERVICE_REWRITE_BYTES = 16 * 1024 * 1024;

export class Maintenance {
  private readonly o: MaintenanceOptions;
  private readonly running = new Map<string, Promise<void>>();
  private readonly lastLogCleanup = new Map<string, number>();
  private readonly lastVacuum = new Map<string, number>();
  /** Tasks done since start, for summaries and tests. */
  compactions = 0;
  vacuums = 0;
  logCleanups = 0;

  constructor(o: MaintenanceOptions) {
    this.o = o;
  }

  private settings(table: DeltaTable): CompactionSettings {
    return compactionSettings((k) => table.snapshot.tableProperty(k), {
      minFiles: this.o.minFiles ?? DEFAULT_COMPACT_MIN_FILES,
      maxRewriteBytes: this.o.maxRewriteBytes ?? DEFAULT_SERVICE_REWRITE_BYTES,
      tiered: true,
    });
  }

  /** A commit to `table` landed: start the maintenance that is due, unless some runs for it already. */
  afterCommit(table: DeltaTable): void {
    const key = table.store.url;
    if (this.running.has(key)) return;
    const task = this.due(table);
    if (!task) return;
    const run = task().finally(() => this.running.delete(key));
    this.running.set(key, run);
  }

  /** The task due for `table`, or null (pure but for the clock). */
  private due(table: DeltaTable): (() => Promise<void>) | null {
    const key = table.store.url;
    const snap = table.snapshot;
    const now = (this.o.clock ?? Date.now)();
    const settings = this.settings(table);
    if (this.o.compact !== false && needsCompaction(snap.files(), snap.partitionColumns, settings)) {
      return () => this.compact(table, settings);
    }
    const every = this.o.vacuumEveryMs ?? 24 * HOUR;
    if (every > 0 && now - (this.lastVacuum.get(key) ?? -Infinity) >= every) {
      this.lastVacuum.set(key, now);
      return () => this.vacuum(table);
    }
    if (this.o.logCleanup !== false && now - (this.lastLogCleanup.get(key) ?? -Infinity) >= HOUR) {
      this.lastLogCleanup.set(key, now);
      return () => this.cleanLog(table);
    }
    return null;
  }

  private async vacuum(table: DeltaTable): Promise<void> {
    await this.step(table, 'vacuum', async () => {
      const snap = await loadSnapshot(table.store);
      const r = await vacuum(snap, table.store, { full: true });
      this.vacuums++;
      if (!r.files.length) return NOTHING_DONE;
      return {
        outcome: 'done',
        filesRemoved: r.files.length,
        bytesRemoved: r.bytes,
        details: { files_deleted: r.files.length, mb: (r.bytes / 1e6).toFixed(2) },
      };
    });
  }

  private async cleanLog(table: DeltaTable): Promise<void> {
    await this.step(table, 'log cleanup', async () => {
      const r = await cleanUpExpiredLogs(table.store, table.snapshot.metadata.configuration);
      this.logCleanups++;
      if (!r.deleted) return NOTHING_DONE;
      return {
        outcome: 'done',
        filesRemoved: r.deleted,
        bytesRemoved: r.bytes,
        details: { log_files_deleted: r.deleted, kb: (r.bytes / 1e3).toFixed(1), from_version: r.checkpointVersion },
      };
    });
  }

  /** Run one task: log what it did (when it did something), or why it failed; tell `onStep`; never throw. */
  private async step(table: DeltaTable, task: MaintenanceTask, run: () => Promise<StepResult>, done: string = task) {
    const started = performance.now();
    let result: StepResult;
    try {
      result = await run();
    } catch (err) {
      this.o.log.warn(`${task} failed; the table is unchanged, tried again later`, {
        table: table.store.url,
        error: describeError(err),
      });
      result = { outcome: 'failed' };
    }
    const ms = Math.round(performance.now() - started);
    if (result.outcome === 'done') this.o.log.info(done, { table: table.store.url, ...result.details, ms });
    this.o.onStep?.({
      table: table.store.url,
      task,
      outcome: result.outcome,
      filesRemoved: result.filesRemoved ?? 0,
      filesAdded: result.filesAdded ?? 0,
      bytesRemoved: result.bytesRemoved ?? 0,
      bytesAdded: result.bytesAdded ?? 0,
      ms,
    });
  }

  private async compact(table: DeltaTable, settings: CompactionSettings): Promise<void> {
    await this.step(
      table,
      'compaction',
      async () => {
        const own = await DeltaTable.open(table.store);
        own.encoder = table.encoder;
        const r = await optimizeTable(own, settings);
        if (r.kind === 'conflict') {
          this.o.log.info('compaction gave way to a concurrent change; tried again after a later commit', {
            table: table.store.url,
            reason: r.reason,
          });
          return { outcome: 'conflict' };
        }
        if (r.kind !== 'optimized') return NOTHING_DONE;
        this.compactions++;
        if (r.checkpointError) {
          this.o.log.warn('checkpoint failed after compaction', { error: r.checkpointError.message });
        }
        const { filesRemoved, filesAdded, bytesRemoved, bytesAdded } = r;
        return {
          outcome: 'done',
          filesRemoved,
          filesAdded,
          bytesRemoved,
          bytesAdded,
          details: {
            version: r.version,
            files_in: filesRemoved,
            files_out: filesAdded,
            mb_in: (bytesRemoved / 1e6).toFixed(2),
            mb_out: (bytesAdded / 1e6).toFixed(2),
            rows: r.rows,
          },
        };
      },
      'compacted',
    );
  }

  /** Wait for running compactions (before exiting). */
  async idle(): Promise<void> {
    await Promise.all(this.running.values());
  }
}

/**
 * The batch committer: the one commit path of every writer of the product
 * (`consume`, `load`, spool replay). A batch is a list of prepared appends,
 * dead letters first, then the data: each carries its `txn` actions, so a
 * crash between two commits re-delivers the batch and every table skips what
 * it already holds.
 *
 * Outcomes are values:
 * - committed: every part landed;
 * - conflict: a part met a real conflict (another worker advanced these
 *   partitions); nothing after it was committed;
 * - spooled: the table store failed (or older batches of the same key wait in
 *   the spool, which keeps commits in order), and the parts not committed yet
 *   were kept in the local spool, to be replayed in order.
 * Anything else (bad data, a table that needs a person, a storage failure
 * with no room in the spool) is thrown.
 */
import type { PreparedAppend } from '../delta/table.ts';
import { describeError, isStorageFailure } from '../errors.ts';
import type { Logger } from '../logger.ts';
import { DEAD_LETTER_TABLE } from './dead-letters.ts';
import type { Spool, SpoolPart } from './spool.ts';
import type { TableCatalog } from './tables.ts';

export type CommitPart = SpoolPart;

export type CommitOutcome =
  | { kind: 'committed'; versions: Map<string, number>; checkpointErrors: Map<string, Error> }
  | { kind: 'conflict'; table: string; reason: string }
  | { kind: 'spooled'; cause: 'queued' | 'store failing' };

/** The table a part is committed to. */
export function partTable(catalog: TableCatalog, name: string) {
  return name === DEAD_LETTER_TABLE ? catalog.deadLetterTable() : catalog.postTable(name);
}

export class BatchCommitter {
  private readonly o: { catalog: TableCatalog; log: Logger; spool?: Spool };
  constructor(o: { catalog: TableCatalog; log: Logger; spool?: Spool }) {
    this.o = o;
  }

  /**
   * Commit `parts` in order. `key` names the stream the batch belongs to (a
   * topic): while older batches of it wait in the spool, this one queues
   * behind them.
   */
  async commit(parts: CommitPart[], key: string): Promise<CommitOutcome> {
    const { spool, log } = this.o;
    if (spool?.hasPendingForTopic(key)) {
      await spool.add([key], parts);
      return { kind: 'spooled', cause: 'queued' };
    }
    const versions = new Map<string, number>();
    const checkpointErrors = new Map<string, Error>();
    let done = 0;
    try {
      for (const part of parts) {
        const r = await (await partTable(this.o.catalog, part.table)).commitPrepared(part.prepared);
        if (r.kind === 'conflict') return { kind: 'conflict', table: part.table, reason: r.reason };
        versions.set(part.table, r.version);
        if (r.checkpointError) checkpointErrors.set(part.table, r.checkpointError);
        done++;
      }
    } catch (err) {
      if (!spool || !isStorageFailure(err) || spool.full()) throw err;
      await spool.add([key], parts.slice(done));
      log.warn(
        'the table store is failing: the batch is kept in the local spool and will be committed, in order, when the store answers; consumption continues',
        {
          table: parts[parts.length - 1].table,
          error: describeError(err),
          spooled_batches: spool.size,
          spooled_mb: (spool.bytes / 1e6).toFixed(1),
        },
      );
      return { kind: 'spooled', cause: 'store failing' };
    }
    return { kind: 'committed', versions, checkpointErrors };
  }
}

/** The parts of a batch: its dead letters' append (if any), then its data. */
export function batchParts(table: string, data: PreparedAppend, deadLetters: PreparedAppend | null): CommitPart[] {
  const parts: CommitPart[] = [];
  if (deadLetters) parts.push({ table: DEAD_LETTER_TABLE, prepared: deadLetters });
  parts.push({ table, prepared: data });
  return parts;
}

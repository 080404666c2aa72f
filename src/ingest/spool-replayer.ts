/**
 * Spool replay: commit the batches kept while the table store failed, oldest
 * first, exactly once (each part's `txn` versions decide what already
 * landed). Stops at the first failure (the store is still down, or a table
 * needs a person). A spooled part that already landed (a crash before its
 * entry was cleaned up) or that another worker overtook is removed; the
 * overtaken partitions are reported, so their owner re-reads them.
 */
import type { Logger } from '../logger.ts';
import type { DeltaTable } from '../delta/table.ts';
import { partTable } from './batch-committer.ts';
import { DEAD_LETTER_TABLE } from './dead-letters.ts';
import type { Spool } from './spool.ts';
import type { TableCatalog } from './tables.ts';

export interface ReplayOutcome {
  replayed: number;
  remaining: number;
  /** Why replay stopped early. */
  error?: Error;
  /** txn app ids whose spooled data was overtaken and dropped. */
  dropped: Set<string>;
}

export async function replaySpool(
  spool: Spool,
  catalog: TableCatalog,
  log: Logger,
  onCommitted?: (table: DeltaTable) => void,
): Promise<ReplayOutcome> {
  let replayed = 0;
  const dropped = new Set<string>();
  for (;;) {
    const entry = await spool.oldest();
    if (!entry) break;
    for (let i = 0; i < entry.parts.length; i++) {
      const part = entry.parts[i];
      let r, table;
      try {
        table = await partTable(catalog, part.table);
        r = await table.commitPrepared(part.prepared);
      } catch (err) {
        return { replayed, remaining: spool.size, error: err as Error, dropped };
      }
      const where = { table: part.table, seq: entry.seq };
      if (r.kind === 'committed') {
        log.info('spooled batch committed', { ...where, version: r.version, rows: part.prepared.rows });
        onCommitted?.(table);
      } else if (part.prepared.txns.every((x) => table.snapshot.txnVersion(x.appId) === x.version)) {
        log.info('spooled batch was already committed (before a restart); removing it from the spool', where);
      } else {
        log.warn('spooled batch was overtaken by another worker that re-read these offsets; dropping it', {
          ...where,
          reason: r.reason,
        });
        if (part.table !== DEAD_LETTER_TABLE) for (const x of part.prepared.txns) dropped.add(x.appId);
      }
      await spool.complete(entry.seq, i + 1);
    }
    replayed++;
  }
  if (replayed) {
    log.info('spool replayed: the table store is answering again; back to direct commits', { batches: replayed });
  }
  return { replayed, remaining: spool.size, dropped };
}

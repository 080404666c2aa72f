/**
 * Planning a flush's commit (prepare, no writes): the dead letters' append,
 * if any, and the data append, each with a `txn` per partition.
 *
 * Each txn carries `expect`, the version the table must still hold for the
 * partition: otherwise another worker owned it meanwhile and committed part
 * of this range, and the plan is a conflict (a value). Dead letters are
 * filtered against what the dead-letter table holds and expect that version
 * too, so a worker that raced us to a partition's dead letters makes this a
 * conflict, never a second copy of its letters.
 */
import type { DeltaTable, PreparedAppend } from '../delta/table.ts';
import type { StructType } from '../delta/schema.ts';
import { DEAD_LETTER_TABLE, deadLetterBatch, type DeadLetter } from './dead-letters.ts';
import type { PartitionState } from './partition-buffers.ts';
import type { Positions } from './positions.ts';
import type { PostBatchResult } from './post-batch.ts';
import type { TableCatalog } from './tables.ts';
import { txnAppId } from './topics.ts';

export type Conflicted = { kind: 'conflict'; reason: string };
export type PlannedBatch = { kind: 'prepared'; data: PreparedAppend; dead: PreparedAppend | null };

export interface BatchToPlan {
  table: DeltaTable;
  taken: PartitionState[];
  result: PostBatchResult;
  /** The table's schema with the columns this batch adds, if any. */
  schema: StructType | undefined;
  /** Older batches of the topic wait in the spool: the txn check happens at commit (replay) time only. */
  queued: boolean;
}

export async function planBatch(
  catalog: TableCatalog,
  positions: Positions,
  b: BatchToPlan,
): Promise<PlannedBatch | Conflicted> {
  const dead = b.taken.some((st) => st.dead.length > 0) ? await planDeadLetters(catalog, positions, b.taken) : null;
  if (dead?.kind === 'conflict') return dead;
  const txns = b.taken.map((st) => ({
    appId: txnAppId(positions.group, st.topic, st.partition),
    version: Number(st.lastOffset!),
    expect: st.base === null ? null : Number(st.base),
  }));
  const data = await b.table.prepareEncodedAppend(b.result.files, {
    txns,
    schema: b.schema,
    operation: 'STREAMING UPDATE',
    commitInfo: { engineInfo: `reddit-stream ingest (group ${positions.group})` },
    prepareTxnCheck: !b.queued,
  });
  if (data.kind === 'conflict') return data;
  return { kind: 'prepared', data, dead: dead ?? null };
}

/** The dead letters' append: per partition only the letters the dead-letter table does not hold yet. */
async function planDeadLetters(
  catalog: TableCatalog,
  positions: Positions,
  taken: PartitionState[],
): Promise<PreparedAppend | Conflicted | null> {
  const dlq = await catalog.deadLetterTable();
  await dlq.refresh().catch(() => undefined);
  const letters: DeadLetter[] = [];
  const txns: Array<{ appId: string; version: number; expect: number | null }> = [];
  for (const st of taken) {
    const appId = txnAppId(positions.group, st.topic, st.partition);
    const have = positions.txn(dlq, DEAD_LETTER_TABLE, appId);
    const fresh = st.dead.filter((d) => d.offset > BigInt(have));
    if (fresh.length === 0) continue;
    letters.push(...fresh);
    txns.push({ appId, version: Number(fresh[fresh.length - 1].offset), expect: have < 0 ? null : have });
  }
  if (letters.length === 0) return null;
  return dlq.prepareAppend(deadLetterBatch(letters), { txns, operation: 'STREAMING UPDATE' });
}

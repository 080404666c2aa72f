/**
 * Where a consumer group stands in each partition: the `txn` version of app
 * id `<group>-<topic>-<partition>` in a table, or further when batches wait
 * in the spool (they are committed in order, so they count as consumed).
 */
import type { DeltaTable } from '../delta/table.ts';
import type { Spool } from './spool.ts';
import { tableForTopic, txnAppId } from './topics.ts';

export class Positions {
  readonly group: string;
  private readonly spool: Spool | undefined;
  constructor(group: string, spool?: Spool) {
    this.group = group;
    this.spool = spool;
  }

  /** The last offset of `topic`/`partition` that `table` accounts for, or null. */
  partition(table: DeltaTable, topic: string, partition: number): bigint | null {
    const v = this.txn(table, tableForTopic(topic), txnAppId(this.group, topic, partition));
    return v < 0 ? null : BigInt(v);
  }

  /** The txn version of `appId` in `table` (named `name` under the root), counting spooled commits; -1 when none. */
  txn(table: DeltaTable, name: string, appId: string): number {
    return Math.max(table.snapshot.txnVersion(appId) ?? -1, this.spool?.positions(name).get(appId) ?? -1);
  }
}

/**
 * Time partitioning of post tables: a new table may be partitioned by the
 * year, month or day of `created_at` (UTC), held in a derived string column
 * (`created_year` "2026", `created_month` "2026-12", `created_day`
 * "2026-12-04"; zero-padded, so text order is time order). A post without a
 * creation time goes to the null partition.
 *
 * The layout belongs to the table, not to the configuration: values are
 * derived for whichever of these columns a table is partitioned by, so a table
 * keeps the layout it was created with whatever `partition_by` says later.
 */
import { field, struct, type StructType } from '../delta/schema.ts';
import type { ColumnBatch, Value } from '../parquet/data-model.ts';

export type PartitionBy = 'none' | 'year' | 'month' | 'day';
export const PARTITION_BY: readonly PartitionBy[] = ['none', 'year', 'month', 'day'];

/** The derived column of each unit, and how many characters of an ISO date it keeps. */
const UNITS = {
  year: { column: 'created_year', length: 4 },
  month: { column: 'created_month', length: 7 },
  day: { column: 'created_day', length: 10 },
} as const;

const LENGTH_BY_COLUMN: ReadonlyMap<string, number> = new Map(Object.values(UNITS).map((u) => [u.column, u.length]));

/** The partition columns of a new post table. */
export function timePartitionColumns(by: PartitionBy): string[] {
  return by === 'none' ? [] : [UNITS[by].column];
}

/** The schema of a new post table: the post schema plus the derived partition column, if any. */
export function partitionedSchema(base: StructType, by: PartitionBy): StructType {
  return by === 'none' ? base : struct([...base.fields, field(UNITS[by].column, 'string')]);
}

/** The partition value of a `created_at` (microseconds since the epoch, UTC) for a derived column. */
export function timePartitionValue(column: string, createdAt: bigint | null): string | null {
  const length = LENGTH_BY_COLUMN.get(column);
  if (length === undefined || createdAt === null) return null;
  return new Date(Number(createdAt / 1000n)).toISOString().slice(0, length);
}

/**
 * Fill the derived time-partition columns among `partitionColumns` from the
 * batch's `created_at` (in place). Other partition columns are left as the
 * batch has them.
 */
export function fillTimePartitions(partitionColumns: readonly string[], batch: ColumnBatch): void {
  const createdAt = batch.columns.created_at;
  for (const column of partitionColumns) {
    if (!LENGTH_BY_COLUMN.has(column)) continue;
    const values: Value[] = new Array<Value>(batch.numRows);
    for (let r = 0; r < batch.numRows; r++) {
      values[r] = timePartitionValue(column, (createdAt?.[r] ?? null) as bigint | null);
    }
    batch.columns[column] = values;
  }
}

/** The unit a table is partitioned by, as far as time partitioning goes ('none' for any other layout). */
export function tablePartitionBy(partitionColumns: readonly string[]): PartitionBy | 'other' {
  if (partitionColumns.length === 0) return 'none';
  const unit = (Object.keys(UNITS) as Array<keyof typeof UNITS>).find(
    (u) => partitionColumns.length === 1 && partitionColumns[0] === UNITS[u].column,
  );
  return unit ?? 'other';
}

/**
 * Dead letters: messages that failed decoding or validation, kept in a Delta
 * table (`<table_root>/_dead_letters`) with where they came from, their raw
 * bytes and the reason. They never block a partition.
 */
import { field, struct, type StructType } from '../delta/schema.ts';
import type { ColumnBatch } from '../delta/table.ts';
import type { DeltaValue } from '../delta/values.ts';

export const DEAD_LETTER_TABLE = '_dead_letters';

export const DEAD_LETTER_SCHEMA: StructType = struct([
  field('source', 'string'),
  field('topic', 'string'),
  field('partition', 'integer'),
  field('offset', 'long'),
  field('key', 'binary'),
  field('value', 'binary'),
  field('error', 'string'),
  field('failed_at', 'timestamp'),
]);

export interface DeadLetter {
  /** "kafka" or "load:<file>" */
  source: string;
  topic: string | null;
  partition: number | null;
  /** Kafka offset, or line number for files. */
  offset: bigint;
  key: Uint8Array | null;
  value: Uint8Array | null;
  error: string;
  failedAt: number;
}

export function deadLetterBatch(letters: DeadLetter[]): ColumnBatch {
  const col = <T extends DeltaValue>(f: (d: DeadLetter) => T) => letters.map(f);
  return {
    numRows: letters.length,
    columns: {
      source: col((d) => d.source),
      topic: col((d) => d.topic),
      partition: col((d) => d.partition),
      offset: col((d) => d.offset),
      key: col((d) => d.key),
      value: col((d) => d.value),
      error: col((d) => d.error),
      failed_at: col((d) => BigInt(d.failedAt) * 1000n),
    },
  };
}

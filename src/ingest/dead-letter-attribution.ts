/**
 * Dead-letter attribution (pure): the encoder reports failed messages by
 * their index in a flush's packed job; each belongs to the partition whose
 * segment holds that index. The result is every partition's dead letters in
 * offset order: those known on arrival (empty messages) merged with those
 * the encoder found.
 */
import type { DeadLetter } from './dead-letters.ts';
import { kafkaDeadLetter } from './partition-buffers.ts';
import { packedEntry, type Packed } from './packed-messages.ts';

export interface TakenPartition {
  topic: string;
  partition: number;
  dead: DeadLetter[];
}

/** A flush's messages, packed: values went to the encoder; keys and offsets stay for dead letters. */
export interface TakenMessages {
  values: Packed;
  keys: Packed & { nulls: Uint8Array | null };
  offsets: bigint[];
  /** Messages per taken partition, in the order of the taken list. */
  segments: number[];
}

export interface EncoderFailure {
  index: number;
  reason: string;
  value: Uint8Array;
}

const byOffset = (x: DeadLetter, y: DeadLetter) => (x.offset < y.offset ? -1 : x.offset > y.offset ? 1 : 0);

/** Each taken partition's dead letters, in offset order (same order as `taken`). */
export function attributeDeadLetters(
  taken: readonly TakenPartition[],
  packed: TakenMessages,
  failures: readonly EncoderFailure[],
  failedAt: number,
): DeadLetter[][] {
  const starts: number[] = [];
  let n = 0;
  for (const count of packed.segments) {
    starts.push(n);
    n += count;
  }
  const found: DeadLetter[][] = taken.map(() => []);
  for (const d of failures) {
    let j = taken.length - 1;
    while (starts[j] > d.index) j--;
    const st = taken[j];
    const key = packed.keys.nulls?.[d.index] ? null : packedEntry(packed.keys, d.index).slice();
    const msg = { topic: st.topic, partition: st.partition, offset: packed.offsets[d.index], key, value: d.value };
    found[j].push(kafkaDeadLetter(msg, d.reason, failedAt));
  }
  return taken.map((st, j) => (found[j].length ? [...st.dead, ...found[j]].sort(byOffset) : st.dead));
}

/**
 * The ports where the ingest core meets its adapters. A message source
 * (Kafka, the demo's generator, a test's fake) implements `PollingSource`
 * and is driven by the run loop; a source that learns of partition
 * ownership (a Kafka consumer group) tells a `PartitionOwner`, which the
 * ingest pipeline implements.
 */

export interface SourceMessage {
  topic: string;
  partition: number;
  offset: bigint;
  key: Uint8Array | null;
  value: Uint8Array | null;
  /** Broker or producer timestamp, ms. */
  timestamp?: number;
}

export interface PollingSource {
  /** Up to `max` messages; an empty array when nothing is available now. */
  poll(max: number): Promise<SourceMessage[]>;
  seek(topic: string, partition: number, offset: bigint | null): void;
  /** True when the source will never produce more (finite sources). */
  exhausted(): boolean;
  /** Resolve when messages may be available, or after `ms` (default: just wait `ms`). */
  waitForData?(ms: number, signal?: AbortSignal): Promise<void>;
  /** Told the committed positions after each successful commit (e.g. to mirror them into Kafka). */
  committed?(offsets: Array<{ topic: string; partition: number; offset: bigint }>): Promise<void>;
  /** True while some partition's start position is still being worked out (its messages are held): not idle. */
  positioning?(): boolean;
}

/** Who holds the buffers and positions of the partitions a source is given. */
export interface PartitionOwner {
  /** Take ownership of a partition; returns the next offset to read, or null (use the reset policy). */
  assign(topic: string, partition: number): Promise<bigint | null>;
  /** Give up a partition: its buffered messages are dropped, never committed. */
  revoke(topic: string, partition: number): void;
  /** Wait for running flushes (before partitions are given up). */
  idle(): Promise<void>;
}

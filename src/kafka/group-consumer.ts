/**
 * The port to the Kafka client's group consumer: the part of
 * @platformatic/kafka's `Consumer` and its stream that the source uses, so
 * tests drive the source with a fake, and the factory that makes the real one.
 */
import { Consumer, type ConsumerOptions, type Message } from '@platformatic/kafka';

export type KafkaMessage = Message<Buffer, Buffer, Buffer, Buffer>;

/** The part of the client's consumer stream this source uses. */
export interface GroupStream {
  on(event: 'offsets', fn: () => void): unknown;
  on(event: 'data', fn: (m: KafkaMessage) => void): unknown;
  on(event: 'error', fn: (err: Error) => void): unknown;
  pause(): unknown;
  resume(): unknown;
  /** Where the next fetch of each `topic:partition` starts. */
  offsetsToFetch: Map<string, bigint>;
  close(): Promise<unknown>;
}

/** The part of the client's group consumer this source uses. */
export interface GroupConsumer {
  assignments: Array<{ topic: string; partitions: number[] }> | null;
  on(event: string, fn: (e: { broker?: { host: string; port: number } }) => void): unknown;
  consume(o: {
    topics: string[];
    mode: 'earliest' | 'latest';
    fallbackMode: 'earliest' | 'latest';
    autocommit: false;
    maxWaitTime: number;
  }): Promise<GroupStream>;
  listOffsets(o: {
    topics: string[];
    partitions: Record<string, number[]>;
    timestamp: bigint;
  }): Promise<Map<string, ArrayLike<bigint> | Record<number, bigint>>>;
  commit(o: {
    offsets: Array<{ topic: string; partition: number; offset: bigint; leaderEpoch: number }>;
  }): Promise<unknown>;
  close(force?: boolean): Promise<unknown>;
}

export type GroupConsumerFactory = (options: ConsumerOptions<Buffer, Buffer, Buffer, Buffer>) => GroupConsumer;

/** The real client (tests give a fake). */
export const kafkaConsumer: GroupConsumerFactory = (options) =>
  new Consumer<Buffer, Buffer, Buffer, Buffer>(options) as unknown as GroupConsumer;

/**
 * Publishing posts to Kafka (the producer side): idempotent producer with
 * acks=all and compression, topics created when missing, and a tail reader
 * that tells which keys already reached a topic (used after a crash to send
 * the posts that were in flight without repeating any).
 */
import { Admin, Consumer, Producer } from '@platformatic/kafka';
import type { Logger } from '../logger.ts';
import type { KafkaConnection } from '../config/config.ts';
import { classifyKafkaFailure, kafkaFailureAdvice } from './failures.ts';

export interface OutPost {
  topic: string;
  key: string;
  value: string;
}

export class KafkaPostSink {
  private readonly producer: Producer<Buffer, Buffer, Buffer, Buffer>;
  private readonly admin: Admin;
  private readonly brokers: string[];
  private readonly connection: KafkaConnection;
  private readonly known = new Set<string>();
  private readonly partitions: number;
  private readonly log: Logger;

  constructor(o: {
    bootstrapBrokers: string[];
    clientId: string;
    log: Logger;
    topicPartitions?: number;
    connection?: KafkaConnection;
  }) {
    this.brokers = o.bootstrapBrokers;
    this.connection = o.connection ?? {};
    this.log = o.log;
    this.partitions = o.topicPartitions ?? 1;
    this.producer = new Producer<Buffer, Buffer, Buffer, Buffer>({
      clientId: o.clientId,
      bootstrapBrokers: o.bootstrapBrokers,
      idempotent: true,
      acks: -1,
      compression: 'lz4',
      retries: 10,
      retryDelay: 500,
      ...this.connection,
    } as ConstructorParameters<typeof Producer<Buffer, Buffer, Buffer, Buffer>>[0]);
    this.admin = new Admin({
      clientId: `${o.clientId}-admin`,
      bootstrapBrokers: o.bootstrapBrokers,
      ...this.connection,
    });
  }

  async ensureTopics(topics: string[]): Promise<void> {
    const missing = topics.filter((t) => !this.known.has(t));
    if (missing.length === 0) return;
    try {
      await this.admin.createTopics({ topics: missing, partitions: this.partitions, replicas: 1 });
      this.log.info('created topics', { topics: missing.join(','), partitions: this.partitions });
    } catch (err) {
      // Usually "already exists": fine if the broker now knows every topic.
      try {
        await this.admin.metadata({ topics: missing });
      } catch {
        throw err;
      }
    }
    for (const t of missing) this.known.add(t);
  }

  /**
   * Send posts in order. All posts of a topic go to partition 0, so each
   * subreddit's posts stay in publication order.
   */
  describeFailure(err: unknown): string {
    return kafkaFailureAdvice(classifyKafkaFailure(err), { side: 'producer', brokers: this.brokers });
  }

  async send(posts: OutPost[]): Promise<void> {
    if (posts.length === 0) return;
    await this.ensureTopics([...new Set(posts.map((p) => p.topic))]);
    await this.producer.send({
      messages: posts.map((p) => ({
        topic: p.topic,
        partition: 0,
        key: Buffer.from(p.key),
        value: Buffer.from(p.value),
      })),
    });
  }

  /** Keys among the last `depth` messages of each topic's partition 0. */
  async recentKeys(topics: string[], depth = 5000): Promise<Set<string>> {
    const keys = new Set<string>();
    if (topics.length === 0) return keys;
    // A topic that does not exist yet (Kafka was down at the first send) is created here,
    // as send() would: listing its offsets would otherwise fail on every retry.
    await this.ensureTopics(topics);
    const consumer = new Consumer<Buffer, Buffer, Buffer, Buffer>({
      clientId: 'reddit-stream-producer-check',
      groupId: `reddit-stream-producer-check-${process.pid}-${Date.now()}`,
      bootstrapBrokers: this.brokers,
      ...this.connection,
    });
    try {
      const ends = await consumer.listOffsets({ topics, timestamp: -1n });
      const wanted = new Map<string, bigint>();
      const offsets = [];
      for (const t of topics) {
        const end = ends.get(t)?.[0] ?? 0n;
        if (end === 0n) continue;
        wanted.set(t, end);
        offsets.push({ topic: t, partition: 0, offset: end > BigInt(depth) ? end - BigInt(depth) : 0n });
      }
      if (offsets.length === 0) return keys;
      const stream = await consumer.consume({
        topics: [...wanted.keys()],
        mode: 'manual',
        offsets,
        autocommit: false,
        maxWaitTime: 200,
      });
      const done = new Set<string>();
      for await (const m of stream as AsyncIterable<{
        topic: string;
        partition: number;
        offset: bigint;
        key: Buffer;
      }>) {
        if (m.partition !== 0) continue;
        if (m.key) keys.add(m.key.toString());
        if (m.offset + 1n >= wanted.get(m.topic)!) done.add(m.topic);
        if (done.size === wanted.size) break;
      }
      await stream.close();
    } finally {
      await consumer.close(true).catch(() => undefined);
    }
    return keys;
  }

  async close(): Promise<void> {
    await this.producer.close().catch(() => undefined);
    await this.admin.close().catch(() => undefined);
  }
}

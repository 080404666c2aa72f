/** End offsets of topics, asked once (for `status`): no group is joined, nothing is consumed. */
import { Consumer } from '@platformatic/kafka';
import type { KafkaConnection } from '../config/kafka-connection.ts';

/**
 * The offset the next message of each partition will get, by topic, or
 * throws when the brokers do not answer within `timeoutMs`.
 */
export async function topicEndOffsets(
  brokers: string[],
  topics: string[],
  options: { connection?: KafkaConnection; timeoutMs?: number } = {},
): Promise<Map<string, bigint[]>> {
  const consumer = new Consumer<Buffer, Buffer, Buffer, Buffer>({
    clientId: 'reddit-stream-status',
    groupId: 'reddit-stream-status',
    bootstrapBrokers: brokers,
    retries: 0,
    ...options.connection,
  });
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer from ${brokers.join(',')}`)), options.timeoutMs ?? 5000);
  });
  try {
    const offsets = await Promise.race([consumer.listOffsets({ topics, timestamp: -1n }), timeout]);
    return new Map([...offsets].map(([topic, ends]) => [topic, [...ends]]));
  } finally {
    clearTimeout(timer);
    await consumer.close(true).catch(() => undefined);
  }
}

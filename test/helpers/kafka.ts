/** Kafka helpers for end-to-end tests: a real broker, topics, producing, running `consume`. */
import { after } from 'node:test';
import { Admin, Producer } from '@platformatic/kafka';
import { spawn, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import { startBroker, type Broker } from '../../scripts/kafka-broker.ts';
import { PostGenerator } from '../../src/reddit/generate.ts';
import { REPO_ROOT } from './fixtures.ts';

export { startBroker, type Broker };

export async function createTopics(bootstrap: string, topics: string[], partitions: number): Promise<void> {
  const admin = new Admin({ clientId: 'test-admin', bootstrapBrokers: [bootstrap] });
  try {
    await admin.createTopics({ topics, partitions, replicas: 1 });
  } finally {
    await admin.close();
  }
}

export interface OutMessage {
  topic: string;
  partition: number;
  key: string;
  value: string | Buffer;
}

/** Send `messages` in batches of `batch`, pausing `pauseMs` after each (a steady trickle instead of a burst). */
export async function produce(bootstrap: string, messages: OutMessage[], batch = 500, pauseMs = 0): Promise<void> {
  const producer = new Producer<Buffer, Buffer, Buffer, Buffer>({
    clientId: 'test-producer',
    bootstrapBrokers: [bootstrap],
    idempotent: true,
    acks: -1,
  } as any);
  try {
    for (let i = 0; i < messages.length; i += batch) {
      await producer.send({
        messages: messages.slice(i, i + batch).map((m) => ({
          topic: m.topic,
          partition: m.partition,
          key: Buffer.from(m.key),
          value: typeof m.value === 'string' ? Buffer.from(m.value) : m.value,
        })),
      });
      if (pauseMs > 0) await new Promise((r) => setTimeout(r, pauseMs));
    }
  } finally {
    await producer.close();
  }
}

export interface ConsumeRun {
  child: ChildProcess;
  done: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>;
  stderr(): string;
}

/** Start `reddit-stream consume` as a child process. */
// Children still running when a test file ends (e.g. an assertion failed before
// the test stopped them) are killed, so a failure never hangs the suite.
const running = new Set<ChildProcess>();
after(() => {
  for (const c of running) c.kill('SIGKILL');
});

export function startConsume(args: string[], cwd: string, env: Record<string, string> = {}): ConsumeRun {
  const child = spawn(process.execPath, [path.join(REPO_ROOT, 'src/cli/main.ts'), 'consume', ...args], {
    cwd,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  running.add(child);
  child.on('exit', () => running.delete(child));
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>(
    (resolve) => {
      child.on('exit', (code, signal) => resolve({ code, signal, stdout, stderr }));
    },
  );
  return { child, done, stderr: () => stderr };
}

/** Every message of a topic (all partitions), in offset order per partition. */
export async function readTopic(
  bootstrap: string,
  topic: string,
  expectAtLeast = 0,
): Promise<Array<{ partition: number; offset: bigint; key: string; value: string }>> {
  const { Consumer } = await import('@platformatic/kafka');
  const consumer = new Consumer<Buffer, Buffer, Buffer, Buffer>({
    clientId: 'test-reader',
    groupId: `test-reader-${Date.now()}-${Math.random()}`,
    bootstrapBrokers: [bootstrap],
  });
  const out: Array<{ partition: number; offset: bigint; key: string; value: string }> = [];
  try {
    const ends = await consumer.listOffsets({ topics: [topic], timestamp: -1n });
    const total = (ends.get(topic) ?? []).reduce((s, x) => s + Number(x), 0);
    if (total === 0) return out;
    const stream = await consumer.consume({ topics: [topic], mode: 'earliest', autocommit: false, maxWaitTime: 200 });
    for await (const m of stream as AsyncIterable<{ partition: number; offset: bigint; key: Buffer; value: Buffer }>) {
      out.push({ partition: m.partition, offset: m.offset, key: m.key.toString(), value: m.value.toString() });
      if (out.length >= Math.max(total, expectAtLeast)) break;
    }
    await stream.close();
  } finally {
    await consumer.close(true).catch(() => undefined);
  }
  return out;
}

/** `n` generated posts for `topic` (reddit_<sub>), spread round-robin over `partitions`, keyed by fullname. */
export function generatedMessages(topic: string, n: number, partitions: number, seed: number): OutMessage[] {
  const g = new PostGenerator({ seed, subreddits: [topic.replace('reddit_', '')] });
  return Array.from({ length: n }, (_, i) => {
    const p = g.next();
    return { topic, partition: i % partitions, key: String(p.name), value: JSON.stringify(p) };
  });
}

/** Kafka helpers for end-to-end tests: a real broker, topics, producing, running `consume`. */
import { Admin, Producer } from '@platformatic/kafka';
import { spawn, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import { startBroker, type Broker } from '../../scripts/kafka-broker.ts';
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

export interface OutMessage { topic: string; partition: number; key: string; value: string | Buffer }

export async function produce(bootstrap: string, messages: OutMessage[], batch = 500): Promise<void> {
  const producer = new Producer<Buffer, Buffer, Buffer, Buffer>({ clientId: 'test-producer', bootstrapBrokers: [bootstrap], idempotent: true, acks: -1 } as any);
  try {
    for (let i = 0; i < messages.length; i += batch) {
      await producer.send({
        messages: messages.slice(i, i + batch).map((m) => ({ topic: m.topic, partition: m.partition, key: Buffer.from(m.key), value: typeof m.value === 'string' ? Buffer.from(m.value) : m.value })),
      });
    }
  } finally {
    await producer.close();
  }
}

export interface ConsumeRun { child: ChildProcess; done: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>; stderr(): string }

/** Start `reddit-stream consume` as a child process. */
export function startConsume(args: string[], cwd: string, env: Record<string, string> = {}): ConsumeRun {
  const child = spawn(process.execPath, [path.join(REPO_ROOT, 'src/cli/main.ts'), 'consume', ...args], { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>((resolve) => {
    child.on('exit', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  return { child, done, stderr: () => stderr };
}

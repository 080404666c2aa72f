/** Benchmark setup shared by bench/kafka-consume.ts and bench/kafka-repeat.ts. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Producer } from '@platformatic/kafka';
import { PostGenerator } from '../src/reddit/generate.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** The Node flags the `reddit-stream` command starts with: benchmark consumers run with them too. */
export const NODE_FLAGS = JSON.parse(fs.readFileSync(path.join(ROOT, 'bin/node-flags.json'), 'utf8')) as string[];

export type BenchProducer = Producer<Buffer, Buffer, Buffer, Buffer>;

/** An idempotent producer for benchmark data. */
export function benchProducer(bootstrap: string): BenchProducer {
  return new Producer<Buffer, Buffer, Buffer, Buffer>({ clientId: 'bench-producer', bootstrapBrokers: [bootstrap], idempotent: true, acks: -1 } as ConstructorParameters<typeof Producer<Buffer, Buffer, Buffer, Buffer>>[0]);
}

/**
 * Produce `n` generated posts of r/bench into `topic`, round-robin over
 * `partitions`; their bytes. With `producer` it is used and left open.
 */
export async function preloadPosts(bootstrap: string, topic: string, n: number, producer?: BenchProducer, partitions = 6): Promise<number> {
  const p0 = producer ?? benchProducer(bootstrap);
  const gen = new PostGenerator({ seed: 5, subreddits: ['bench'] });
  let bytes = 0;
  try {
    for (let i = 0; i < n; i += 1200) {
      const batch = [];
      for (let j = i; j < Math.min(n, i + 1200); j++) {
        const p = gen.next();
        const v = Buffer.from(JSON.stringify(p));
        bytes += v.length;
        batch.push({ topic, partition: j % partitions, key: Buffer.from(String(p.name)), value: v });
      }
      await p0.send({ messages: batch });
    }
  } finally {
    if (!producer) await p0.close();
  }
  return bytes;
}

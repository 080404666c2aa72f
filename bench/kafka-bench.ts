/** Benchmark setup shared by bench/kafka-consume.ts and bench/kafka-repeat.ts. */
import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Producer } from '@platformatic/kafka';
import { PostGenerator } from '../src/reddit/generate.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** The Node flags the `reddit-stream` command starts with: benchmark consumers run with them too. */
export const NODE_FLAGS = JSON.parse(fs.readFileSync(path.join(ROOT, 'bin/node-flags.json'), 'utf8')) as string[];

/** Consumers run the built code, as the command does: build it first. */
export function buildDist(): void {
  execFileSync(
    process.execPath,
    [path.join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', path.join(ROOT, 'tsconfig.build.json')],
    { stdio: 'inherit' },
  );
}

/** A command's standard output, once it exited 0. */
export function runOutput(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    // The thread pool size bin/reddit-stream.js sets for the command.
    const c = spawn(cmd, args, {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { UV_THREADPOOL_SIZE: '8', ...process.env },
    });
    let out = '';
    c.stdout.on('data', (d) => (out += d));
    // 'close': its output is read to the end.
    c.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`${cmd} exited ${code}`))));
  });
}

/** What bench/kafka-consume-child.mjs prints (the figures used here; the rest is reported as is). */
export interface ConsumerFigures {
  postsPerSec: number | null;
  seconds: number | null;
  peakRssMB: number;
  flushMsP50: number | null;
  flushMsP99: number | null;
  cpuSeconds: Record<string, number>;
  [figure: string]: unknown;
}

/** bench/kafka-consume-child.mjs with `args`, as the command runs (Node flags, thread pool): its figures. */
export async function runConsumer(args: string[]): Promise<ConsumerFigures> {
  const out = await runOutput(process.execPath, [
    ...NODE_FLAGS,
    path.join(ROOT, 'bench/kafka-consume-child.mjs'),
    ...args,
  ]);
  return JSON.parse(out.trim().split('\n').pop()!) as ConsumerFigures;
}

export type BenchProducer = Producer<Buffer, Buffer, Buffer, Buffer>;

/** An idempotent producer for benchmark data. */
export function benchProducer(bootstrap: string): BenchProducer {
  return new Producer<Buffer, Buffer, Buffer, Buffer>({
    clientId: 'bench-producer',
    bootstrapBrokers: [bootstrap],
    idempotent: true,
    acks: -1,
  } as ConstructorParameters<typeof Producer<Buffer, Buffer, Buffer, Buffer>>[0]);
}

/**
 * Produce `n` generated posts of r/bench into `topic`, round-robin over
 * `partitions`; their bytes. With `producer` it is used and left open.
 */
export async function preloadPosts(
  bootstrap: string,
  topic: string,
  n: number,
  producer?: BenchProducer,
  partitions = 6,
): Promise<number> {
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

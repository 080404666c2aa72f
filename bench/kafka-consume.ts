/**
 * Kafka -> Delta benchmark on a real broker (started here):
 *  1. throughput: preload N generated posts into a 6-partition topic, then time
 *     `consume` from its first message to its last commit (posts/s, MB/s,
 *     flush latency p50/p99, peak RSS);
 *  2. latency: produce at a steady rate (default 200 posts/s) while consuming
 *     with default settings; end-to-end latency = commit time - producer
 *     timestamp, p50/p99;
 *  3. the old pipeline's approach, `shared/anchors/seed_polars_consumer.py`
 *     (confluent-kafka + Polars + deltalake), on the same topic with batch
 *     sizes 100 and 5000, when Python is available; our throughput as a ratio
 *     to its best.
 *
 *   node bench/kafka-consume.ts [--posts 200000] [--rate 200] [--rate-seconds 20] [--no-python]
 *     [--workers N] [--max-batch-bytes B] [--unknown-fields keep|drop] [--encoder auto|native|js] [--gc-every-bytes B]
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { Admin } from '@platformatic/kafka';
import { startBroker } from '../scripts/kafka-broker.ts';
import { PostGenerator } from '../src/reddit/generate.ts';
import { benchProducer, buildDist, NODE_FLAGS, preloadPosts, runConsumer, runOutput } from './kafka-bench.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(here, '..');
const SHARED = process.env.REDDIT_STREAM_SHARED ?? path.resolve(ROOT, '../shared');
const { values: a } = parseArgs({
  options: {
    posts: { type: 'string', default: '200000' },
    rate: { type: 'string', default: '200' },
    'rate-seconds': { type: 'string', default: '20' },
    'no-python': { type: 'boolean', default: false },
    'max-batch-bytes': { type: 'string' },
    workers: { type: 'string' },
    'unknown-fields': { type: 'string' },
    encoder: { type: 'string' },
    'gc-every-bytes': { type: 'string' },
  },
});
const N = Number(a.posts);

buildDist();
const broker = await startBroker({ partitions: 6, heapMb: 1024 });
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rs-bench-kafka-'));
const results: Record<string, unknown> = {
  posts: N,
  node: process.version,
  nodeFlags: NODE_FLAGS.join(' '),
  cpus: os.cpus().length,
};
try {
  const admin = new Admin({ clientId: 'bench', bootstrapBrokers: [broker.bootstrap] });
  await admin.createTopics({ topics: ['reddit_bench', 'reddit_steady'], partitions: 6, replicas: 1 });
  await admin.close();
  const t0 = performance.now();
  // Kept open (connected, producer id set up) for the steady phase.
  const producer = benchProducer(broker.bootstrap);
  const bytes = await preloadPosts(broker.bootstrap, 'reddit_bench', N, producer);
  results.preload = {
    seconds: +((performance.now() - t0) / 1000).toFixed(1),
    MB: +(bytes / 1e6).toFixed(1),
    avgPostBytes: Math.round(bytes / N),
  };

  // 1. throughput
  const ours = await runConsumer([
    '--bootstrap',
    broker.bootstrap,
    '--subreddit',
    'bench',
    '--root',
    path.join(tmp, 'ours'),
    '--group',
    'bench-ours',
    '--idle',
    '3',
    ...(a['max-batch-bytes'] ? ['--max-batch-bytes', a['max-batch-bytes']] : []),
    ...(a.workers ? ['--workers', a.workers] : []),
    ...(a['unknown-fields'] ? ['--unknown-fields', a['unknown-fields']] : []),
    ...(a.encoder ? ['--encoder', a.encoder] : []),
    ...(a['gc-every-bytes'] ? ['--gc-every-bytes', a['gc-every-bytes']] : []),
  ]);
  ours.MBPerSec = ours.seconds ? +(bytes / 1e6 / ours.seconds).toFixed(1) : null;
  results.throughput = ours;

  // 2. steady rate latency (default settings: batch_size 5000, processing_interval 1 s)
  const rate = Number(a.rate),
    secs = Number(a['rate-seconds']);
  const child = runConsumer([
    '--bootstrap',
    broker.bootstrap,
    '--subreddit',
    'steady',
    '--root',
    path.join(tmp, 'steady'),
    '--group',
    'bench-steady',
    '--idle',
    '4',
  ]);
  await new Promise((r) => setTimeout(r, 3000)); // let it join the group
  const sg = new PostGenerator({ seed: 6, subreddits: ['steady'] });
  const tick = 100;
  for (let t = 0; t < (secs * 1000) / tick; t++) {
    const start = performance.now();
    const n = Math.round((rate * tick) / 1000);
    await producer.send({
      messages: Array.from({ length: n }, (_, k) => {
        const p = sg.next();
        return {
          topic: 'reddit_steady',
          partition: (t * n + k) % 6,
          key: Buffer.from(String(p.name)),
          value: Buffer.from(JSON.stringify(p)),
        };
      }),
    });
    await new Promise((r) => setTimeout(r, Math.max(0, tick - (performance.now() - start))));
  }
  await producer.close();
  results.steady = Object.assign({ rate, seconds: secs }, await child);

  // 3. the old pipeline's approach on the same topic
  if (!a['no-python']) {
    try {
      const py = execFileSync('bash', [path.join(ROOT, 'scripts/pyenv.sh')], { encoding: 'utf8' })
        .trim()
        .split('\n')
        .pop()!;
      execFileSync(py, ['-m', 'pip', 'install', '-q', '-r', path.join(ROOT, 'scripts/requirements-bench.txt')], {
        stdio: 'inherit',
      });
      const seed: Record<string, unknown> = {};
      for (const bs of [100, 5000]) {
        const out = await runOutput(py, [
          path.join(SHARED, 'anchors/seed_polars_consumer.py'),
          '--bootstrap',
          broker.bootstrap,
          '--topic',
          'reddit_bench',
          '--table',
          path.join(tmp, `seed-${bs}`),
          '--batch-size',
          String(bs),
          '--expect',
          String(N),
          '--idle-s',
          '10',
          '--group',
          `seed-${bs}`,
        ]);
        seed[`batch${bs}`] = JSON.parse(out.trim().split('\n').pop()!);
      }
      results.seedPython = seed;
      const best = Math.max(...Object.values(seed).map((s) => Number((s as { posts_per_s: number }).posts_per_s) || 0));
      results.ratioToSeedBest = best > 0 && ours.postsPerSec ? +(ours.postsPerSec / best).toFixed(1) : null;
    } catch (err) {
      results.seedPython = `not run: ${(err as Error).message}`;
    }
  }
} finally {
  await broker.stop();
  fs.rmSync(tmp, { recursive: true, force: true });
}
console.log(JSON.stringify(results, null, 2));

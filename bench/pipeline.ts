/**
 * Ingest pipeline benchmark without a broker: an in-process source of
 * generated posts (6 partitions of one topic) -> per-partition buffers ->
 * normalise -> Delta commits with txn offsets, on local disk. Reports posts/s
 * and MB/s (excluding the time spent generating posts), commit latency
 * p50/p99 and peak RSS.
 *
 *   node bench/pipeline.ts [--posts 200000] [--batch 5000] [--partitions 6]
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { GeneratedPartition } from '../src/ingest/generated-source.ts';
import { IngestPipeline, type SourceMessage } from '../src/ingest/pipeline.ts';
import { localTableRoot, TableCatalog } from '../src/ingest/tables.ts';
import { consoleLogger } from '../src/logger.ts';
import { runLoop } from '../src/service/run-loop.ts';
import { WorkerPostBatchEncoder } from '../src/ingest/worker-encoder.ts';

const { values: args } = parseArgs({
  options: {
    posts: { type: 'string', default: '200000' },
    batch: { type: 'string', default: '5000' },
    partitions: { type: 'string', default: '6' },
  },
});
const total = Number(args.posts),
  batch = Number(args.batch),
  nparts = Number(args.partitions);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rs-bench-pipeline-'));
const log = consoleLogger('warn');
const latencies: number[] = [];
let peakRss = 0;
let atPeak: NodeJS.MemoryUsage | null = null;
setInterval(() => {
  const m = process.memoryUsage();
  if (m.rss > peakRss) {
    peakRss = m.rss;
    atPeak = m;
  }
}, 20).unref();
const pipeline = new IngestPipeline({
  group: 'bench',
  policy: { maxMessages: batch, maxBytes: Number(process.env.BENCH_MAX_BYTES ?? 32 << 20), maxLatencyMs: 1000 },
  catalog: new TableCatalog(localTableRoot(dir), { log }),
  log,
  encoder: process.env.BENCH_INLINE
    ? undefined
    : new WorkerPostBatchEncoder(process.env.BENCH_WORKERS ? Number(process.env.BENCH_WORKERS) : undefined),
  onBatch: (s) => {
    latencies.push(s.ms);
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
  },
});
const parts: GeneratedPartition[] = [];
for (let p = 0; p < nparts; p++) {
  await pipeline.assign('reddit_benchmark', p);
  parts.push(new GeneratedPartition('benchmark', p, BigInt(Math.ceil(total / nparts))));
}
let genMs = 0,
  bytes = 0,
  rr = 0;
const t0 = performance.now();
await runLoop({
  pipeline,
  log,
  maxBufferedBytes: Number(process.env.BENCH_MAX_BUFFERED ?? 64 << 20),
  source: {
    async poll(max) {
      const g = performance.now();
      const out: SourceMessage[] = parts[rr++ % parts.length].poll(Math.min(max, 1000));
      for (const m of out) bytes += m.value!.byteLength;
      genMs += performance.now() - g;
      peakRss = Math.max(peakRss, process.memoryUsage().rss);
      return out;
    },
    seek: (t, p, o) => parts[p].seek(o ?? 0n),
    exhausted: () => parts.every((x) => x.position >= x.end),
  },
});
const wall = performance.now() - t0;
const busy = (wall - genMs) / 1000;
latencies.sort((a, b) => a - b);
const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))];
console.log(
  JSON.stringify(
    {
      posts: pipeline.totals.rows,
      commits: pipeline.totals.commits,
      batch,
      partitions: nparts,
      avgPostBytes: Math.round(bytes / pipeline.totals.rows),
      postsPerSec: Math.round(pipeline.totals.rows / busy),
      MBPerSec: +(bytes / 1e6 / busy).toFixed(1),
      commitMsP50: +pct(50).toFixed(0),
      commitMsP99: +pct(99).toFixed(0),
      peakRssMB: Math.round(peakRss / 1e6),
      atPeakMB: atPeak
        ? Object.fromEntries(
            Object.entries(atPeak as NodeJS.MemoryUsage).map(([k, v]) => [k, Math.round(Number(v) / 1e6)]),
          )
        : null,
      pipelineSeconds: +busy.toFixed(1),
      generateSeconds: +(genMs / 1000).toFixed(1),
      node: process.version,
    },
    null,
    2,
  ),
);
fs.rmSync(dir, { recursive: true, force: true });

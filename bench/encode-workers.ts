/**
 * Batch encoding on worker threads, without Kafka: where the memory of a busy
 * `consume` goes. Each of N workers encodes the same job (generated posts
 * packed like a flush, default 8 MiB) R times, as the service's workers do;
 * reports posts/s and, per worker, its V8 heap and parquet-wasm memory, plus
 * the process's peak RSS (kernel high-water mark).
 *
 *   node bench/encode-workers.ts [--workers 2] [--job-bytes 8388608] [--rounds 20] [--young-mb N]
 *
 * `--young-mb` caps each worker's V8 young generation (resourceLimits).
 *
 * Run on the sources, so every thread also carries Node's type stripper
 * (~28 MB; the built `reddit-stream` command does not).
 */
import * as fs from 'node:fs';
import { parseArgs } from 'node:util';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { packMessages } from '../src/ingest/packed-messages.ts';
import type { PostBatchJob } from '../src/ingest/post-batch.ts';
import { postTableSchema } from '../src/reddit/post-schema.ts';

const MB = (x: number) => Math.round(x / 1e6);

if (isMainThread) {
  const { values: a } = parseArgs({
    options: {
      workers: { type: 'string', default: '2' },
      'job-bytes': { type: 'string', default: String(8 << 20) },
      rounds: { type: 'string', default: '20' },
      'young-mb': { type: 'string' },
    },
  });
  const { generatedMessages } = await import('../src/reddit/generate.ts');
  const { messages: msgs, bytes } = generatedMessages(Number(a['job-bytes']));
  const baseRss = process.memoryUsage().rss;
  const t0 = performance.now();
  const results = await Promise.all(
    Array.from(
      { length: Number(a.workers) },
      () =>
        new Promise<Record<string, number>>((resolve, reject) => {
          const w = new Worker(new URL(import.meta.url), {
            workerData: { msgs, rounds: Number(a.rounds) },
            ...(a['young-mb'] ? { resourceLimits: { maxYoungGenerationSizeMb: Number(a['young-mb']) } } : {}),
          });
          w.once('message', resolve);
          w.once('error', reject);
        }),
    ),
  );
  const seconds = (performance.now() - t0) / 1000;
  const hwm = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync('/proc/self/status', 'utf8'));
  console.log(
    JSON.stringify(
      {
        workers: Number(a.workers),
        postsPerJob: msgs.length,
        jobMB: MB(bytes),
        rounds: Number(a.rounds),
        postsPerSec: Math.round((msgs.length * Number(a.rounds) * results.length) / seconds),
        mainRssBeforeWorkersMB: MB(baseRss),
        peakRssMB: hwm ? MB(Number(hwm[1]) * 1024) : null,
        perWorker: results,
      },
      null,
      1,
    ),
  );
  process.exit(0);
} else {
  const { encodePostBatch } = await import('../src/ingest/post-batch.ts');
  const pw = await import('parquet-wasm/node');
  const { msgs, rounds } = workerData as { msgs: Uint8Array[]; rounds: number };
  const schema = postTableSchema('keep');
  let heapMax = 0;
  for (let r = 0; r < rounds; r++) {
    const p = packMessages(msgs);
    const job: PostBatchJob = {
      data: p.data,
      ends: p.ends,
      segments: [msgs.length],
      normalise: { unknownFields: 'keep' },
      schema,
      partitionColumns: [],
      settings: { codec: 'snappy', numIndexedCols: 32, maxFileBytes: 128 << 20 },
    };
    await encodePostBatch(job);
    heapMax = Math.max(heapMax, process.memoryUsage().heapTotal);
  }
  parentPort!.postMessage({
    heapTotalMaxMB: MB(heapMax),
    heapUsedMB: MB(process.memoryUsage().heapUsed),
    wasmMemoryMB: MB(pw.wasmMemory().buffer.byteLength),
  });
}

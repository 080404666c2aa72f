/**
 * The native encoder without Kafka: posts/s and memory of N jobs encoded at
 * once on libuv threads, R rounds (generated posts packed like a flush,
 * default 4 MiB, the size flushes are split to). Reports the process's RSS
 * before the first job and its peak (kernel high-water mark).
 *
 *   node bench/encode-native.ts [--parallel 2] [--job-bytes 4194304] [--rounds 20] [--service]
 *
 * --service: as the service runs it (glibc's mmap threshold fixed, see fixMmapThreshold).
 */
import * as fs from 'node:fs';
import { parseArgs } from 'node:util';
import { loadNativeAddon, NativePostBatchEncoder } from '../src/ingest/native-encoder.ts';
import { packMessages } from '../src/ingest/packed-messages.ts';
import { inlinePostBatchEncoder, type PostBatchJob } from '../src/ingest/post-batch.ts';
import { generatedMessages } from '../src/reddit/generate.ts';
import { postTableSchema } from '../src/reddit/post-schema.ts';

const MB = (x: number) => Math.round(x / 1e6);
const { values: a } = parseArgs({
  options: {
    parallel: { type: 'string', default: '2' },
    'job-bytes': { type: 'string', default: String(4 << 20) },
    rounds: { type: 'string', default: '20' },
    service: { type: 'boolean', default: false },
  },
});
const loaded = loadNativeAddon();
if ('error' in loaded) throw new Error(loaded.error);
if (a.service) loaded.addon.fixMmapThreshold(128 * 1024);
const parallel = Number(a.parallel);
const { messages: msgs, bytes } = generatedMessages(Number(a['job-bytes']));
const schema = postTableSchema('keep');
const encoder = new NativePostBatchEncoder(loaded.addon, inlinePostBatchEncoder, {
  parallelism: parallel,
  jobBytes: Infinity,
});
// One packed copy per lane, reused (the encoder does not modify its input).
const packed = Array.from({ length: parallel }, () => packMessages(msgs));
const job = (lane: number): PostBatchJob => {
  const p = packed[lane];
  return {
    data: p.data,
    ends: p.ends,
    segments: [msgs.length],
    normalise: { unknownFields: 'keep' },
    schema,
    partitionColumns: [],
    settings: { codec: 'snappy', numIndexedCols: 32, maxFileBytes: 128 << 20 },
  };
};
const rssBefore = process.memoryUsage().rss;
const t0 = performance.now();
await Promise.all(
  Array.from({ length: parallel }, async (_, lane) => {
    for (let r = 0; r < Number(a.rounds); r++) {
      await encoder.encode(job(lane));
      (globalThis as { gc?: () => void }).gc?.();
    }
  }),
);
const seconds = (performance.now() - t0) / 1000;
const hwm = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync('/proc/self/status', 'utf8'));
console.log(
  JSON.stringify({
    parallel,
    postsPerJob: msgs.length,
    jobMB: MB(bytes),
    rounds: Number(a.rounds),
    fallbacks: encoder.stats.fallback,
    postsPerSec: Math.round((msgs.length * Number(a.rounds) * parallel) / seconds),
    usPerPostPerThread:
      Math.round(((seconds * 1e6 * parallel) / (msgs.length * Number(a.rounds) * parallel)) * 10) / 10,
    rssBeforeMB: MB(rssBefore),
    peakRssMB: hwm ? MB(Number(hwm[1]) * 1024) : null,
    rssAfterMB: MB(process.memoryUsage().rss),
  }),
);

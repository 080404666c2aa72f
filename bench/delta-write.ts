/**
 * Delta writer benchmark: append N Reddit-like rows (~3 KB each) to a local
 * table in batches, one commit per batch, and report rows/s, MB/s (input
 * JSON-equivalent bytes and Parquet bytes), commit latency p50/p99 and peak RSS.
 *
 *   node bench/delta-write.ts [--rows 1000000] [--batch 10000] [--dir /tmp/x]
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { DeltaTable, field, LocalObjectStore, loadSnapshot, struct, type ColumnBatch } from '../src/index.ts';

const { values: args } = parseArgs({
  options: {
    rows: { type: 'string', default: '1000000' },
    batch: { type: 'string', default: '10000' },
    dir: { type: 'string' },
  },
});
const total = Number(args.rows);
const batchSize = Number(args.batch);
const dir = args.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'rs-bench-'));

const schema = struct([
  field('id', 'string'),
  field('name', 'string'),
  field('subreddit', 'string'),
  field('author', 'string'),
  field('title', 'string'),
  field('selftext', 'string'),
  field('url', 'string'),
  field('permalink', 'string'),
  field('score', 'long'),
  field('ups', 'long'),
  field('num_comments', 'long'),
  field('upvote_ratio', 'double'),
  field('created_utc', 'double'),
  field('created_at', 'timestamp'),
  field('over_18', 'boolean'),
  field('edited', 'boolean'),
  field('link_flair_text', 'string'),
  field('thumbnail', 'string'),
  field('media', 'string'),
  field('domain', 'string'),
]);

// Deterministic pseudo-random text (xorshift) so runs are comparable.
let seed = 42;
const rnd = () => ((seed ^= seed << 13), (seed ^= seed >>> 17), (seed ^= seed << 5), (seed >>> 0) / 4294967296);
const WORDS =
  'the a rust delta kafka stream post reddit data lake parquet table commit python typescript node query lake fast slow new old why how what when'.split(
    ' ',
  );
const words = (n: number) => Array.from({ length: n }, () => WORDS[(rnd() * WORDS.length) | 0]).join(' ');
const SUBS = ['technology', 'programming', 'dataengineering', 'python', 'rust', 'worldnews', 'science', 'askreddit'];

function makeBatch(start: number, n: number): { batch: ColumnBatch; bytes: number } {
  const cols: Record<string, unknown[]> = Object.fromEntries(schema.fields.map((f) => [f.name, new Array(n)]));
  let bytes = 0;
  for (let i = 0; i < n; i++) {
    const k = start + i;
    const id = k.toString(36);
    const sub = SUBS[k % SUBS.length];
    const created = 1_700_000_000 + k * 0.37;
    const selftext = rnd() < 0.25 ? '' : words(350 + ((rnd() * 500) | 0));
    const row = {
      id,
      name: `t3_${id}`,
      subreddit: sub,
      author: `user_${(rnd() * 50000) | 0}`,
      title: words(8 + ((rnd() * 12) | 0)),
      selftext,
      url: `https://www.reddit.com/r/${sub}/comments/${id}/`,
      permalink: `/r/${sub}/comments/${id}/`,
      score: BigInt((rnd() * 5000) | 0),
      ups: BigInt((rnd() * 5000) | 0),
      num_comments: BigInt((rnd() * 900) | 0),
      upvote_ratio: Math.round(rnd() * 100) / 100,
      created_utc: created,
      created_at: BigInt(Math.round(created * 1e6)),
      over_18: rnd() < 0.05,
      edited: rnd() < 0.1,
      link_flair_text: rnd() < 0.5 ? null : words(2),
      thumbnail: 'self',
      media:
        rnd() < 0.8
          ? null
          : JSON.stringify({
              reddit_video: { bitrate_kbps: 2400, height: 720, fallback_url: `https://v.redd.it/${id}/DASH_720.mp4` },
            }),
      domain: `self.${sub}`,
    } as Record<string, unknown>;
    for (const f of schema.fields) {
      const v = row[f.name];
      (cols[f.name] as unknown[])[i] = v;
      bytes += typeof v === 'string' ? v.length : 8;
    }
  }
  return { batch: { numRows: n, columns: cols as ColumnBatch['columns'] }, bytes };
}

const table = await DeltaTable.create(new LocalObjectStore(dir), { schema });
const latencies: number[] = [];
let inputBytes = 0;
let parquetBytes = 0;
let peakRss = process.memoryUsage().rss;
let genMs = 0;
const t0 = performance.now();
for (let written = 0; written < total; written += batchSize) {
  const n = Math.min(batchSize, total - written);
  const g = performance.now();
  const { batch, bytes } = makeBatch(written, n);
  genMs += performance.now() - g;
  inputBytes += bytes;
  const c = performance.now();
  const res = await table.append(batch, { txns: [{ appId: 'bench', version: written + n - 1 }] });
  latencies.push(performance.now() - c);
  if (res.kind !== 'committed') throw new Error(`unexpected conflict: ${res.reason}`);
  parquetBytes += res.bytes;
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
}
const wallMs = performance.now() - t0;
const writeMs = wallMs - genMs;
latencies.sort((a, b) => a - b);
const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))];
const snap = await loadSnapshot(new LocalObjectStore(dir));
const rows = snap.files().reduce((s, f) => s + JSON.parse(f.stats!).numRecords, 0);
if (rows !== total) throw new Error(`table has ${rows} rows, expected ${total}`);
const result = {
  rows: total,
  batch: batchSize,
  commits: latencies.length,
  version: snap.version,
  rowsPerSec: Math.round(total / (writeMs / 1000)),
  inputMBPerSec: +(inputBytes / 1e6 / (writeMs / 1000)).toFixed(1),
  parquetMBPerSec: +(parquetBytes / 1e6 / (writeMs / 1000)).toFixed(1),
  avgRowBytes: Math.round(inputBytes / total),
  parquetMB: +(parquetBytes / 1e6).toFixed(1),
  commitMsP50: +pct(50).toFixed(1),
  commitMsP99: +pct(99).toFixed(1),
  commitMsMax: +latencies[latencies.length - 1].toFixed(1),
  peakRssMB: Math.round(peakRss / 1e6),
  writeSeconds: +(writeMs / 1000).toFixed(1),
  generateSeconds: +(genMs / 1000).toFixed(1),
  node: process.version,
  cpus: os.cpus().length,
};
console.log(JSON.stringify(result, null, 2));
if (!args.dir) fs.rmSync(dir, { recursive: true, force: true });

/**
 * Normalisation benchmark: message bytes -> validated post columns, on real
 * Reddit posts (shared/fixtures/reddit/posts.ndjson) and on generated ones,
 * next to JSON.parse alone as the floor. Reports posts/s and MB/s.
 *
 *   node bench/normalise.ts [--rounds 20]
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { PostBatchBuilder } from '../src/reddit/normalise.ts';
import { PostGenerator } from '../src/reddit/generate.ts';

const { values: args } = parseArgs({ options: { rounds: { type: 'string', default: '20' } } });
const rounds = Number(args.rounds);
const here = path.dirname(fileURLToPath(import.meta.url));
const shared = process.env.REDDIT_STREAM_SHARED ?? path.resolve(here, '../../shared');
const enc = new TextEncoder();

function measure(name: string, msgs: Uint8Array[], fn: (m: Uint8Array, i: number) => void, flush?: () => void) {
  const bytes = msgs.reduce((s, m) => s + m.byteLength, 0);
  // warm-up
  msgs.slice(0, 500).forEach(fn);
  flush?.();
  const t = performance.now();
  for (let r = 0; r < rounds; r++) {
    msgs.forEach(fn);
    flush?.();
  }
  const s = (performance.now() - t) / 1000;
  const n = msgs.length * rounds;
  return {
    name,
    posts: n,
    avgBytes: Math.round(bytes / msgs.length),
    postsPerSec: Math.round(n / s),
    MBPerSec: +((bytes * rounds) / 1e6 / s).toFixed(1),
  };
}

const real = fs
  .readFileSync(path.join(shared, 'fixtures/reddit/posts.ndjson'), 'utf8')
  .split('\n')
  .filter(Boolean)
  .map((l) => enc.encode(l));
const gen = new PostGenerator({ seed: 1 });
const synthetic = Array.from({ length: 5000 }, () => enc.encode(gen.nextJson()));
const dec = new TextDecoder();
const results = [];
for (const [label, msgs] of [
  ['real', real],
  ['generated', synthetic],
] as const) {
  results.push(
    measure(`${label}: JSON.parse only`, msgs, (m) => {
      JSON.parse(dec.decode(m));
    }),
  );
  for (const policy of ['keep', 'drop'] as const) {
    const b = new PostBatchBuilder({ unknownFields: policy });
    results.push(
      measure(
        `${label}: normalise (unknown fields: ${policy})`,
        msgs,
        (m, i) => {
          b.add(m, i);
          if (b.size >= 5000) b.build();
        },
        () => b.build(),
      ),
    );
  }
}
console.table(results);

/**
 * The native encoder against the JavaScript reference (`encodePostBatch`):
 * for the same job both must give the same rows (every column, read back
 * from the Parquet bytes), the same stats JSON, the same dead letters and
 * summaries. Each case also asserts which path ran, so a silent fallback to
 * JavaScript cannot make a comparison pass.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { parquetReadObjects } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';
import {
  choosePostBatchEncoder,
  loadNativeAddon,
  NativePostBatchEncoder,
  type NativeAddon,
} from '../../src/ingest/native-encoder.ts';
import { packMessages } from '../../src/ingest/packed-messages.ts';
import {
  encodePostBatch,
  inlinePostBatchEncoder,
  type PostBatchJob,
  type PostBatchResult,
} from '../../src/ingest/post-batch.ts';
import { WorkerPostBatchEncoder } from '../../src/ingest/worker-encoder.ts';
import { PostGenerator } from '../../src/reddit/generate.ts';
import type { UnknownFieldPolicy } from '../../src/reddit/post-schema.ts';
import { postTableSchema } from '../../src/reddit/post-schema.ts';
import { SHARED } from '../helpers/fixtures.ts';

const loaded = loadNativeAddon();
if ('error' in loaded) {
  throw new Error(`${loaded.error}. The tests need the native encoder: npm test builds it (scripts/test.sh).`);
}
const addon = loaded.addon;
const enc = new TextEncoder();

function job(
  values: Array<Uint8Array | string>,
  segments?: number[],
  options: {
    policy?: UnknownFieldPolicy;
    numIndexedCols?: number;
    withIds?: boolean;
    codec?: 'snappy' | 'zstd' | 'gzip' | 'uncompressed';
    maxMessageBytes?: number;
  } = {},
): PostBatchJob {
  const { data, ends } = packMessages(values.map((v) => (typeof v === 'string' ? enc.encode(v) : v)));
  const policy = options.policy ?? 'keep';
  return {
    data,
    ends,
    segments: segments ?? [values.length],
    normalise: { unknownFields: policy, maxMessageBytes: options.maxMessageBytes ?? 1024 * 1024 },
    schema: postTableSchema(policy),
    partitionColumns: [],
    settings: {
      codec: options.codec ?? 'snappy',
      numIndexedCols: options.numIndexedCols ?? 32,
      maxFileBytes: 32 << 20,
    },
    withIds: options.withIds,
  };
}

async function rows(bytes: Uint8Array): Promise<unknown[]> {
  const file = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  return parquetReadObjects({ file, compressors });
}

/** Both results describe the same files and outcomes (split: the same rows, in more files). */
async function assertSame(native: PostBatchResult, js: PostBatchResult, split = false): Promise<void> {
  assert.equal(native.rows, js.rows, 'rows');
  assert.equal(native.duplicates, js.duplicates, 'duplicates');
  assert.deepEqual(native.dead, js.dead, 'dead letters');
  assert.deepEqual(native.firstRows, js.firstRows, 'first rows');
  if (split) {
    const all = async (r: PostBatchResult) => (await Promise.all(r.files.map((f) => rows(f.bytes)))).flat();
    assert.deepEqual(await all(native), await all(js), 'rows read back');
    return;
  }
  assert.deepEqual(native.ids, js.ids, 'ids');
  assert.deepEqual(native.segmentRows, js.segmentRows, 'segment rows');
  assert.equal(native.files.length, js.files.length, 'files');
  for (let i = 0; i < js.files.length; i++) {
    const [n, j] = [native.files[i], js.files[i]];
    assert.equal(n.numRows, j.numRows);
    assert.equal(n.codec, j.codec);
    assert.equal(n.stats, j.stats, 'stats JSON');
    assert.deepEqual(await rows(n.bytes), await rows(j.bytes), 'rows read back');
  }
}

/** Encode with both; `path` says which path the native encoder must have taken. */
async function compare(
  j: () => PostBatchJob,
  path: 'native' | RegExp = 'native',
  jobBytes = Infinity,
): Promise<PostBatchResult> {
  const native = new NativePostBatchEncoder(addon, inlinePostBatchEncoder, { jobBytes });
  const got = await native.encode(j());
  if (path === 'native') {
    assert.deepEqual(native.stats.fallback, {}, 'no fallback');
    assert.ok(native.stats.native >= 1);
  } else {
    assert.equal(native.stats.native, 0);
    assert.ok(
      Object.keys(native.stats.fallback).some((r) => path.test(r)),
      `fallback for ${path}, got ${JSON.stringify(native.stats.fallback)}`,
    );
  }
  const want = await encodePostBatch(j());
  await assertSame(got, want, got.files.length > 1 && jobBytes < j().data.byteLength);
  return got;
}

const base = { id: 'e1', subreddit: 'edge', title: 'Edge case', score: 1, created_utc: 1_700_000_000.5 };
const post = (extra: Record<string, unknown>, id = 'e1') => JSON.stringify({ ...base, id, ...extra });

describe('native encoder matches the JavaScript encoder', () => {
  it('on the real fixture posts, in 3 segments with duplicates, both unknown-field policies', async () => {
    const lines = fs
      .readFileSync(path.join(SHARED, 'fixtures/reddit/posts.ndjson'), 'utf8')
      .split('\n')
      .filter(Boolean);
    assert.ok(lines.length >= 1000);
    const values = [...lines, ...lines.slice(0, 50)]; // the repeats fall into the last segment
    const third = Math.floor(values.length / 3);
    const segments = [third, third, values.length - 2 * third];
    for (const policy of ['keep', 'drop'] as const) {
      const r = await compare(() => job(values, segments, { policy, numIndexedCols: -1 }));
      assert.ok(r.rows >= lines.length && r.dead.length === 0);
    }
  });

  it('on generated posts, with ids, every codec', async () => {
    const g = new PostGenerator({ seed: 11 });
    const values = Array.from({ length: 1500 }, () => g.nextJson());
    for (const codec of ['snappy', 'zstd', 'gzip', 'uncompressed'] as const) {
      await compare(() => job(values, [700, 800], { withIds: true, codec }));
    }
  });

  it('when a flush is split into parts, and when a duplicate falls into two parts', async () => {
    const g = new PostGenerator({ seed: 12 });
    const values = Array.from({ length: 800 }, () => g.nextJson());
    const split = await compare(() => job(values, [300, 500]), 'native', 64 * 1024);
    assert.ok(split.files.length > 10);
    // The same id at both ends of one partition: only one piece lets the last one win.
    values[790] = JSON.stringify({ ...JSON.parse(values[10]), title: 'the later copy' });
    const whole = await compare(() => job(values, [800]), 'native', 64 * 1024);
    assert.equal(whole.files.length, 1);
    assert.equal(whole.duplicates, 1);
  });

  it('on coercions and text JavaScript writes in its own way', async () => {
    const cases = [
      post({
        banned_by: true,
        link_flair_text: 12,
        approved_by: 1.5,
        removed_by: 1e21,
        mod_note: 1e-7,
        category: -0,
        // eslint-disable-next-line no-loss-of-precision -- a number beyond float64 precision, as JSON may carry
        removal_reason: 123456789012345678901234,
      }),
      post({
        media: { a: [1, 2.5, -0, 1e300, 5e-324, null, true, 'x'], b: { c: '' } },
        secure_media: [],
        report_reasons: {},
      }),
      post({
        selftext:
          'quote " backslash \\ slash / tab \t nl \n cr \r bs \b ff \f nul \u0000 unit \u001f del \u007f ls \u2028 emoji 😀 é',
      }),
      // Escapes in nested JSON, in extra fields and in stats bounds (short strings are not cut).
      post(
        {
          media: { ctl: '\b\f\n\r\t\u0000\u0001\u001f\u007f"\\/' },
          ['x\by']: '\u0002',
          title: '\b\u0003"\\',
          author: '\u001f',
        },
        'c1',
      ),
      post({
        score: 5.0,
        ups: -9007199254740991,
        downs: 9007199254740991,
        gilded: '-123',
        pwls: '000000000000042',
        num_comments: 1e3,
      }),
      post({ upvote_ratio: 1, created: 0, approved_at_utc: -0, banned_at_utc: 1.7976931348623157e308 }),
      post({ edited: 1_700_000_123.25, likes: null, saved: false }),
      post({ created_utc: -62135596800 }, 'e2'),
      post({ created_utc: 253402300799.9 }, 'e3'),
      post({ __proto__x: 1, constructor: { prototype: { x: 1 } }, 'weird "key"': ['\n'], '': 0, a1: 'v' }, 'e4'),
      '{"id":"e5","__proto__":{"polluted":true},"title":"proto"}',
      post({ title: 'x'.repeat(31) + '😀'.repeat(5), subreddit: '\u{10FFFF}'.repeat(40) }, 'e6'),
      post({ title: 'a'.repeat(32) + '\u{10FFFF}' + 'b', subreddit: 'é'.repeat(33) }, 'e7'),
      post({ id: 'ünïcödé-😀' }, 'x'),
      // Python's json.dumps escapes every non-ASCII character: valid pairs are ordinary text.
      '{"id":"e8","title":"\\ud83d\\ude00 \\u00e9 \\u2028 \\\\ud800 literal","media":{"k":"\\ud83d\\ude00"}}',
      '  {"id":"e9" , "score" : 3 }  ',
      '{"id":"e10","subreddit":"rare","extra":{"nested":{"deep":[[[]]]}}}',
      post({ media: JSON.parse('['.repeat(63) + ']'.repeat(63)) }, 'e11'), // 64 levels with the post
      post({ selftext: 'a "-0" in text, -0 in text', mod_note: '\\"-0' }, 'e12'),
    ];
    // Odd table settings: JavaScript indexes every column for anything but a whole number >= 0.
    for (const numIndexedCols of [32, -1, 0, 1, 1.5, NaN, 2 ** 32 + 1]) {
      await compare(() => job(cases, [cases.length], { numIndexedCols }));
    }
    await compare(() => job(cases, [cases.length], { policy: 'drop' }));
  });

  it('on rejected messages, with the reasons of the JavaScript normaliser', async () => {
    const bad: Array<string | Uint8Array> = [
      '{"id": "x",',
      '[1,2,3]',
      '"hello"',
      'null',
      '{"title": "x"}',
      '{"id": ""}',
      '{"id": 42}',
      post({ score: 1.5 }),
      post({ score: true }),
      post({ over_18: { x: 1 } }),
      // eslint-disable-next-line no-loss-of-precision -- a count beyond int64, as JSON may carry
      post({ ups: 99999999999999999999 }),
      post({ gilded: '1234567890123456' }),
      post({ gilded: '+5' }),
      post({ upvote_ratio: true }),
      post({ likes: 'yes' }),
      post({ edited: 'yes' }),
      post({ created_utc: 1e13 }),
      post({ edited: 253402300800 }),
      post({ created_utc: [] }),
      new Uint8Array([0x7b, 0x22, 0xff, 0x22, 0x7d]),
      post({ selftext: 'x'.repeat(70 * 1024) }),
      '{"id":"raw\ttab"}',
      '{"id":"a"} trailing',
      '{"id":"a",}',
      "{'id':'a'}",
      '{"id":"a","n":NaN}',
      '{"id":"a","n":01}',
      '{"id":"a","n":1.}',
      '{"id":"a","n":.5}',
      '{"id":"a","n":+1}',
      '{"id":"a","s":"\\x41"}',
      '',
      post({ created_utc: 253402300799.9995 }), // its max stat would round up into year 10000
      // Deeper than 64 levels: rejected before parsing (50,000 levels overflowed the addon's stack).
      post({ media: JSON.parse('['.repeat(64) + ']'.repeat(64)) }),
      `{"id":"deep","zz":${'['.repeat(50_000)}${']'.repeat(50_000)}}`,
      `${'['.repeat(50_000)}${']'.repeat(50_000)}`,
    ];
    const values = [post({}, 'good1'), ...bad, post({}, 'good2')];
    const r = await compare(() => job(values, undefined, { maxMessageBytes: 64 * 1024 }));
    assert.equal(r.rows, 2);
    assert.equal(r.dead.length, bad.length);
  });

  for (const [name, value, reason] of [
    ['a lone surrogate escape', '{"id":"s1","title":"\\ud800 alone"}', /lone surrogate/],
    ['duplicate keys', '{"id":"s2","score":1,"score":2}', /duplicate/],
    ['duplicate nested keys', '{"id":"s3","media":{"a":1,"a":2}}', /duplicate/],
    ['an index-like key', '{"id":"s4","media":{"b":1,"10":2,"2":3}}', /array index/],
    ['text in a double column', '{"id":"s5","upvote_ratio":" 0x10 "}', /double column/],
    ['a number beyond the double range', '{"id":"s6","media":[1e400]}', /double range|normaliser accepts/],
    ['a byte-order mark', '\ufeff{"id":"s7"}', /normaliser accepts/],
    // JSON.parse keeps the sign of zero; the addon's parser does not.
    ['a negative zero in a double column', '{"id":"z1","upvote_ratio":-0.0}', /negative zero/],
    ['a negative zero created_utc', '{"id":"z2","created_utc":-0}', /negative zero/],
    ['a negative number that underflows to zero', '{"id":"z3","media":{"x":-1e-400}}', /negative zero/],
    ['"-0" as a long', '{"id":"z4","score":"-0"}', /negative zero/],
    ['a lone surrogate after a pair', '{"id":"s8","title":"\\ud83d\\ude00\\udc00"}', /lone surrogate/],
  ] as const) {
    it(`hands the job to JavaScript on ${name}, with the same result`, async () => {
      await compare(() => job([post({}, 'ok1'), value, post({}, 'ok2')]), reason);
    });
  }

  it('hands partitioned tables and evolved schemas to the fallback encoder', async () => {
    const native = new NativePostBatchEncoder(addon, inlinePostBatchEncoder);
    const j = job([post({})]);
    const schema = {
      ...j.schema,
      fields: [
        ...j.schema.fields,
        { name: 'more', type: { kind: 'primitive' as const, name: 'string' as const }, nullable: true, metadata: {} },
      ],
    };
    await native.encode({ ...j, schema });
    await native.encode({ ...job([post({})]), partitionColumns: ['subreddit'] });
    assert.deepEqual(native.stats, {
      native: 0,
      fallback: { 'table schema is not the post schema': 1, 'partitioned table': 1 },
    });
  });

  it('numbers: the same doubles and texts as JavaScript for many random values', async () => {
    let seed = 7;
    const rand = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32;
    const texts: string[] = [];
    for (let i = 0; i < 3000; i++) {
      const digits = String(Math.floor(rand() * 1e9)) + String(Math.floor(rand() * 1e9));
      const cut = 1 + Math.floor(rand() * (digits.length - 1));
      const exp = Math.floor(rand() * 40) - 20;
      texts.push(`${rand() < 0.5 ? '-' : ''}${digits.slice(0, cut)}.${digits.slice(cut)}e${exp}`);
      texts.push(String(rand() * 10 ** Math.floor(rand() * 30 - 10)));
    }
    const values = texts.map((t, i) => `{"id":"n${i}","upvote_ratio":${t},"media":{"v":${t}},"banned_by":${t}}`);
    await compare(() => job(values, [values.length], { numIndexedCols: -1 }));
  });
});

describe('choosing the post encoder', () => {
  it('auto: native when the addon loads, else JavaScript with the reason; native: refuses to start without it', async () => {
    const auto = choosePostBatchEncoder('auto', 2);
    assert.equal(auto.native, true);
    assert.ok(auto.encoder instanceof NativePostBatchEncoder);
    assert.equal(auto.encoder.parallelism, 2);
    assert.match(auto.note, /native encoder, 2 thread/);
    await auto.encoder.close?.();
    const missing = choosePostBatchEncoder('auto', 0, { addonFile: '/nonexistent/reddit-stream-native.node' });
    assert.equal(missing.native, false);
    assert.equal(missing.encoder, inlinePostBatchEncoder);
    assert.match(
      missing.note,
      /JavaScript encoder: the native encoder is not built \(\/nonexistent\/reddit-stream-native.node is missing; run: bash scripts\/build-native.sh\)/,
    );
    assert.throws(
      () => choosePostBatchEncoder('native', 2, { addonFile: '/nonexistent/reddit-stream-native.node' }),
      /encoder: native, but the native encoder is not built/,
    );
    const js = choosePostBatchEncoder('js', 1);
    assert.ok(js.encoder instanceof WorkerPostBatchEncoder);
    await js.encoder.close?.();
  });

  it("leaves two threads of libuv's pool to file writes and DNS", async () => {
    const small = choosePostBatchEncoder('auto', 8, { threadPoolSize: 4 });
    assert.equal(small.encoder.parallelism, 2);
    const big = choosePostBatchEncoder('auto', 8, { threadPoolSize: 16 });
    assert.equal(big.encoder.parallelism, 8);
    const tiny = choosePostBatchEncoder('auto', 2, { threadPoolSize: 2 });
    assert.equal(tiny.encoder.parallelism, 1);
  });

  it('says once per reason when a job goes to JavaScript, and what ran', async () => {
    const told: string[] = [];
    const native = new NativePostBatchEncoder(addon, inlinePostBatchEncoder, { onFallback: (r) => told.push(r) });
    for (const v of ['{"id":"z","upvote_ratio":-0}', '{"id":"y","score":-0}', '{"id":"x","media":{"1":2}}', post({})]) {
      await native.encode(job([v]));
    }
    assert.deepEqual(told, ['a negative zero', 'an object key that looks like an array index']);
    assert.equal(
      native.describe(),
      'native encoder: 1 job(s) encoded natively, 3 by JavaScript (a negative zero: 2; an object key that looks like an array index: 1)',
    );
  });

  it('hands a job to JavaScript when the addon itself fails (no flush that fails on every retry)', async () => {
    const broken: NativeAddon = {
      PostEncoder: class {
        async encode(): Promise<never> {
          throw new Error('boom');
        }
      } as unknown as NativeAddon['PostEncoder'],
      fixMmapThreshold: () => false,
    };
    const told: string[] = [];
    const native = new NativePostBatchEncoder(broken, inlinePostBatchEncoder, { onFallback: (r) => told.push(r) });
    const r = await native.encode(job([post({}, 'a'), post({}, 'b')]));
    assert.equal(r.rows, 2);
    await native.encode(job([post({}, 'c')]));
    assert.deepEqual(native.stats, { native: 0, fallback: { 'addon error': 2 } });
    assert.deepEqual(told, ['addon error: boom']);
  });

  it('reports an addon that cannot be loaded', () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'rs-addon-')), 'reddit-stream-native.node');
    fs.writeFileSync(file, 'not a shared library'); // e.g. built for another platform, or truncated
    const r = loadNativeAddon(file);
    assert.ok('error' in r);
    assert.match(r.error, /cannot be loaded/);
  });

  it('reports an addon built from older sources instead of failing when the service starts', () => {
    // A module that loads but lacks an export (here a CommonJS stand-in for an old build).
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'rs-addon-')), 'old-addon.cjs');
    fs.writeFileSync(file, 'module.exports = { PostEncoder: class {} };');
    const r = loadNativeAddon(file);
    assert.ok('error' in r);
    assert.match(r.error, /out of date \(no fixMmapThreshold; rebuild it: bash scripts\/build-native.sh\)/);
    const chosen = choosePostBatchEncoder('auto', 0, { addonFile: file, ownsProcess: true });
    assert.equal(chosen.native, false);
    assert.match(chosen.note, /JavaScript encoder: the native encoder .* is out of date/);
  });

  it('the service setting fixes the mmap threshold through the real addon, and says so', () => {
    const chosen = choosePostBatchEncoder('native', undefined, { ownsProcess: true });
    assert.match(chosen.note, /^native encoder, \d thread\(s\); large blocks unmapped when freed$/);
    assert.doesNotMatch(choosePostBatchEncoder('native', undefined).note, /unmapped/);
  });
});

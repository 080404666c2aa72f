/** Batch encoding for the ingest pipeline: packing, normalising per partition segment, files, workers. */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { parquetMetadata, parquetReadObjects } from 'hyparquet';
import { packedEntry, PackBuffers, packMessages } from '../../src/ingest/packed-messages.ts';
import { encodePostBatch, normaliseJob, type PostBatchJob, type PostBatchResult } from '../../src/ingest/post-batch.ts';
import { mergeParts, splitJob, WorkerPostBatchEncoder } from '../../src/ingest/worker-encoder.ts';
import { postTableSchema } from '../../src/reddit/post-schema.ts';
import { partitionedSchema } from '../../src/reddit/time-partitions.ts';

const enc = new TextEncoder();
const post = (id: string, title = `t-${id}`) =>
  enc.encode(JSON.stringify({ id, subreddit: 'x', title, score: 7, created_utc: 1_700_000_000 }));

function job(values: Uint8Array[], segments: number[], buffers?: PackBuffers): PostBatchJob {
  const { data, ends } = packMessages(values, buffers);
  return {
    data,
    ends,
    segments,
    normalise: {},
    schema: postTableSchema('keep'),
    partitionColumns: [],
    settings: { codec: 'snappy', numIndexedCols: 32, maxFileBytes: 32 << 20 },
  };
}

async function rowsOf(bytes: Uint8Array): Promise<Array<Record<string, unknown>>> {
  const file = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  return parquetReadObjects({ file, columns: ['id', 'title'] }) as Promise<Array<Record<string, unknown>>>;
}

describe('packMessages', () => {
  it('packs values back to back with null entries flagged', () => {
    const p = packMessages([enc.encode('ab'), null, enc.encode(''), enc.encode('xyz')]);
    assert.deepEqual([...p.ends], [2, 2, 2, 5]);
    assert.deepEqual([...p.nulls!], [0, 1, 0, 0]);
    assert.equal(new TextDecoder().decode(packedEntry(p, 3)), 'xyz');
    assert.equal(packedEntry(p, 1).byteLength, 0);
    assert.equal(packMessages([enc.encode('a')]).nulls, null);
  });

  it('reuses released buffers of a fitting size', () => {
    const pool = new PackBuffers(2);
    const a = pool.acquire(1000);
    assert.equal(a.byteLength, 1000);
    pool.release(a.buffer as ArrayBuffer);
    const b = pool.acquire(2000);
    assert.equal(b.buffer, a.buffer, 'a 1 MiB buffer fits 2000 bytes');
    assert.equal(b.byteLength, 2000);
    const c = pool.acquire(5 << 20);
    assert.notEqual(c.buffer, a.buffer);
    assert.ok(c.buffer.byteLength >= 5 << 20);
  });

  it('keeps at most `keep` idle buffers, and none idle for longer than idleMs', () => {
    const pool = new PackBuffers(2, 1000);
    for (const size of [1, 2, 3]) pool.release(new ArrayBuffer(size << 20));
    assert.equal(pool.idleBytes, 5 << 20, 'the smallest of three is dropped');
    pool.trim(Date.now() + 500);
    assert.equal(pool.idleBytes, 5 << 20);
    pool.trim(Date.now() + 1500);
    assert.equal(pool.idleBytes, 0);
  });
});

describe('encodePostBatch: time-partitioned tables', () => {
  it('writes one file per month of created_at, with the partition value and without the column in the file', async () => {
    const at = (id: string, iso: string) =>
      enc.encode(JSON.stringify({ id, subreddit: 'x', title: id, created_utc: Date.parse(iso) / 1000 }));
    const values = [
      at('a', '2026-01-31T23:59:59Z'),
      at('b', '2026-02-01T00:00:00Z'),
      at('c', '2026-01-01T00:00:00Z'),
      enc.encode('{"id": "d", "subreddit": "x"}'),
    ];
    const r = await encodePostBatch({
      ...job(values, [4]),
      schema: partitionedSchema(postTableSchema('keep'), 'month'),
      partitionColumns: ['created_month'],
    });
    const byPartition = await Promise.all(
      r.files.map(async (f) => [f.partitionValues.created_month, (await rowsOf(f.bytes)).map((x) => x.id)]),
    );
    assert.deepEqual(
      byPartition.sort((x, y) => String(x[0]).localeCompare(String(y[0]))),
      [
        ['2026-01', ['a', 'c']],
        ['2026-02', ['b']],
        [null, ['d']],
      ],
    );
    const names = parquetMetadata(r.files[0].bytes.buffer as ArrayBuffer).schema.map((s) => s.name);
    assert.equal(names.includes('created_month'), false, 'partition values live in the log, not in the files');
  });
});

describe('encodePostBatch: rows the table cannot take', () => {
  // A table whose `score` column is a 32-bit integer (e.g. created by another
  // tool): a score beyond it used to fail the whole flush on every retry.
  const narrow = postTableSchema('keep');
  const schema = {
    ...narrow,
    fields: narrow.fields.map((f) =>
      f.name === 'score' ? { ...f, type: { kind: 'primitive' as const, name: 'integer' as const } } : f,
    ),
  };
  const scored = (id: string, score: number) =>
    enc.encode(JSON.stringify({ id, subreddit: 'x', title: `t-${id}`, score, created_utc: 1_700_000_000 }));

  it('become dead letters with the error; the other rows are written, per-segment counts follow', async () => {
    const values = [
      scored('a', 1),
      scored('b', 3e9),
      post('c'),
      enc.encode('{oops'),
      scored('d', -3e9),
      scored('e', 5),
    ];
    const r = await encodePostBatch({ ...job(values, [3, 3]), schema, withIds: true });
    assert.equal(r.rows, 3);
    assert.deepEqual(
      r.dead.map((d) => d.index),
      [1, 3, 4],
    );
    assert.match(r.dead[0].reason, /^cannot be written to the table: column score: value 3000000000 does not fit type/);
    assert.equal(new TextDecoder().decode(r.dead[2].value), new TextDecoder().decode(values[4]));
    assert.deepEqual(r.ids, ['a', 'c', 'e']);
    assert.deepEqual(r.segmentRows, [2, 1]);
    assert.deepEqual(
      (await rowsOf(r.files[0].bytes)).map((x) => x.id),
      ['a', 'c', 'e'],
    );
  });

  it('a post refused this way never replaces an earlier copy of its id, split into parts or not', async () => {
    const values = [scored('a', 1), post('b'), scored('a', 3e9), post('c')];
    const whole = await encodePostBatch({ ...job(values, [4]), schema });
    const pool = new WorkerPostBatchEncoder(2, { inlineBelowBytes: 0, jobBytes: 64 });
    try {
      const split = await pool.encode({ ...job(values, [4]), schema });
      for (const r of [whole, split]) {
        assert.deepEqual(
          r.dead.map((d) => d.index),
          [2],
        );
        assert.equal(r.duplicates, 0);
        const written = (await Promise.all(r.files.map((f) => rowsOf(f.bytes)))).flat();
        assert.deepEqual(
          written.map((x) => `${x.id}:${x.title}`),
          ['a:t-a', 'b:t-b', 'c:t-c'],
        );
      }
    } finally {
      await pool.close();
    }
  });

  it('a required column the post leaves empty makes a dead letter with a reason naming it', async () => {
    const required = {
      ...narrow,
      fields: narrow.fields.map((f) => (f.name === 'title' ? { ...f, nullable: false } : f)),
    };
    const r = await encodePostBatch({ ...job([post('a'), enc.encode('{"id": "untitled"}')], [2]), schema: required });
    assert.equal(r.rows, 1);
    assert.deepEqual(
      r.dead.map((d) => [d.index, d.reason]),
      [[1, 'cannot be written to the table: column title is required by the table but the post has no value']],
    );
  });

  it('a batch of only such rows commits no file', async () => {
    const r = await encodePostBatch({ ...job([scored('a', 3e9), scored('b', 4e9)], [2]), schema });
    assert.equal(r.rows, 0);
    assert.deepEqual(r.files, []);
    assert.equal(r.dead.length, 2);
  });
});

describe('normaliseJob', () => {
  it('resolves duplicate ids within a segment (last wins) but not across segments, and reports dead letters by index', () => {
    const values = [
      post('a', 'first'),
      post('b'),
      post('a', 'second'),
      enc.encode('{oops'),
      post('a', 'other partition'),
      enc.encode('[]'),
    ];
    const { batch, dead } = normaliseJob(job(values, [4, 2]));
    assert.equal(batch.numRows, 3);
    assert.deepEqual(batch.columns.title, ['second', 't-b', 'other partition']);
    assert.equal(batch.duplicates, 1);
    assert.deepEqual(batch.refs, [2, 1, 4]);
    assert.deepEqual(
      dead.map((d) => [d.index, new TextDecoder().decode(d.value)]),
      [
        [3, '{oops'],
        [5, '[]'],
      ],
    );
    assert.match(dead[0].reason, /invalid JSON/);
    assert.match(dead[1].reason, /not a JSON object/);
  });
});

describe('encodePostBatch', () => {
  const workers = new WorkerPostBatchEncoder(1, { inlineBelowBytes: 0 });
  after(() => workers.close());

  it('encodes a Parquet file with stats and the first rows for the summary', async () => {
    const r = await encodePostBatch(job([post('p1'), post('p2'), post('p3'), post('p4')], [4]));
    assert.equal(r.rows, 4);
    assert.equal(r.files.length, 1);
    const f = r.files[0];
    assert.equal(f.numRows, 4);
    assert.equal(f.codec, 'snappy');
    assert.equal(JSON.parse(f.stats).numRecords, 4);
    assert.equal(JSON.parse(f.stats).minValues.title, 't-p1', 'stats of the first 32 columns');
    assert.deepEqual(
      (await rowsOf(f.bytes)).map((x) => x.id),
      ['p1', 'p2', 'p3', 'p4'],
    );
    assert.deepEqual(
      r.firstRows.map((x) => [x.title, x.score]),
      [
        ['t-p1', 7],
        ['t-p2', 7],
        ['t-p3', 7],
      ],
    );
  });

  it('gives the same rows on a worker thread, and hands the job buffer back', async () => {
    const values = Array.from({ length: 300 }, (_, i) => post(`w${i}`));
    values[17] = enc.encode('not json');
    const inline = await encodePostBatch(job(values, [150, 150]));
    const j = job(values, [150, 150]);
    const size = j.data.byteLength;
    const r = await workers.encode(j);
    assert.equal(j.data.byteLength, 0, 'the job buffer was transferred, not copied');
    assert.equal(r.recycled?.byteLength, size);
    assert.equal(r.rows, 299);
    assert.deepEqual(
      r.dead.map((d) => d.index),
      [17],
    );
    assert.deepEqual(await rowsOf(r.files[0].bytes), await rowsOf(inline.files[0].bytes));
    assert.equal(parquetMetadata(r.files[0].bytes.slice().buffer).num_rows, 299n);
  });

  it('a small job while the pool is idle is encoded in the calling thread', async () => {
    const small = new WorkerPostBatchEncoder(1); // default: inline below 1 MiB
    try {
      const j = job([post('s1')], [1]);
      const r = await small.encode(j);
      assert.equal(j.data.byteLength > 0, true, 'not transferred to a worker');
      assert.equal(r.rows, 1);
      assert.equal((small as any).pool.workers[0], null, 'no worker was started');
    } finally {
      await small.close();
    }
  });
});

describe('split jobs', () => {
  const dec = new TextDecoder();
  const entries = (j: PostBatchJob) => Array.from(j.ends, (_, i) => dec.decode(packedEntry(j, i)));

  it('splits at message boundaries into parts of about the target size, keeping segments', () => {
    const values = Array.from({ length: 12 }, (_, i) => post(`m${i}`, 'x'.repeat(i % 3 === 0 ? 300 : 20)));
    const whole = job(values, [5, 3, 4]);
    const parts = splitJob(whole, Math.ceil(whole.data.byteLength / 3));
    assert.equal(parts.length, 3);
    assert.deepEqual(
      parts.flatMap((p) => entries(p.job)),
      entries(whole),
      'every message once, in order',
    );
    assert.deepEqual(
      parts.map((p) => p.first),
      [0, parts[0].job.ends.length, parts[0].job.ends.length + parts[1].job.ends.length],
    );
    for (const p of parts) {
      assert.equal(p.job.withIds, true);
      assert.equal(
        p.job.segments.reduce((a, b) => a + b, 0),
        p.job.ends.length,
      );
      assert.notEqual(p.job.data.buffer, whole.data.buffer, 'each part has its own buffer');
    }
    // Segment k of the whole job is spread over the parts that cover its messages.
    const counts = [0, 0, 0];
    for (const p of parts) p.job.segments.forEach((c, k) => (counts[p.segmentOf[k]] += c));
    assert.deepEqual(counts, [5, 3, 4]);
    assert.equal(splitJob(whole, whole.data.byteLength).length, 1, 'a job under the target stays whole');
    assert.equal(splitJob(job([post('solo')], [1]), 1).length, 1, 'one message cannot be split');
  });

  it('merging: dead-letter indexes refer to the whole job; a duplicate id across parts of one segment asks for a whole re-encode', () => {
    const part = (rows: string[], segmentRows: number[], dead: number[] = []): PostBatchResult => ({
      files: [],
      rows: rows.length,
      duplicates: 0,
      dead: dead.map((index) => ({ index, reason: 'bad', value: new Uint8Array() })),
      firstRows: [],
      ids: rows,
      segmentRows,
    });
    const parts = [
      { job: {} as PostBatchJob, first: 0, segmentOf: [0] },
      { job: {} as PostBatchJob, first: 4, segmentOf: [0, 1] },
    ];
    const ok = mergeParts(parts, [part(['a', 'b', 'c'], [3], [1]), part(['d', 'a'], [1, 1], [0])]);
    assert.ok(ok, "'a' twice, but in different segments (partitions)");
    assert.equal(ok.rows, 5);
    assert.deepEqual(
      ok.dead.map((d) => d.index),
      [1, 4],
    );
    assert.equal(
      mergeParts(parts, [part(['a', 'b', 'c'], [3]), part(['b', 'x'], [1, 1])]),
      null,
      "'b' twice in segment 0",
    );
  });

  it("the one-piece fallback re-encodes this job's own bytes, whatever buffer the pool hands it (review repro)", async () => {
    const split = new WorkerPostBatchEncoder(2, { inlineBelowBytes: 0, jobBytes: 2048 });
    try {
      const ids = async (res: PostBatchResult) =>
        (await Promise.all(res.files.map((f) => rowsOf(f.bytes))))
          .flat()
          .map((x) => x.id as string)
          .sort();
      // The pool holds buffers full of other bytes (earlier flushes); this job's
      // own buffer is larger, so the fallback is handed one of those.
      for (let i = 0; i < 4; i++) split.buffers.release(new Uint8Array(1 << 20).fill(0x78).buffer);
      const values = Array.from({ length: 60 }, (_, i) => post(`new${i}`));
      values[55] = post('new2', 'again'); // a duplicate far from the first: another part
      const whole = job(values, [60]);
      const own = new Uint8Array(new ArrayBuffer(2 << 20), 0, whole.data.byteLength);
      own.set(whole.data);
      const r = await split.encode({ ...whole, data: own });
      const want = await encodePostBatch(job(values, [60]));
      assert.deepEqual(r.dead, [], 'no message turned into garbage');
      assert.equal(r.rows, want.rows);
      assert.deepEqual(await ids(r), await ids(want));
    } finally {
      await split.close();
    }
  });

  it('a worker pool encodes a large job in parts with the same rows, dead letters and duplicate handling as one piece', async () => {
    const split = new WorkerPostBatchEncoder(2, { inlineBelowBytes: 0, jobBytes: 2048 });
    try {
      const values = Array.from({ length: 200 }, (_, i) => post(`s${i}`));
      values[3] = enc.encode('{bad');
      values[150] = enc.encode('[]');
      const whole = await encodePostBatch(job(values, [120, 80]));
      const r = await split.encode(job(values, [120, 80]));
      assert.ok(r.files.length > 1, `encoded in parts (${r.files.length} files)`);
      assert.equal(r.rows, whole.rows);
      assert.deepEqual(
        r.dead.map((d) => d.index),
        [3, 150],
      );
      const ids = async (res: PostBatchResult) =>
        (await Promise.all(res.files.map((f) => rowsOf(f.bytes))))
          .flat()
          .map((x) => x.id)
          .sort();
      assert.deepEqual(await ids(r), await ids(whole));
      assert.equal(r.ids, undefined, 'ids are internal to the split');
      // The same id early and late in one partition: the last one wins, as in one piece.
      const dup = [...values];
      dup[190] = post('s5', 'the later s5');
      const d = await split.encode(job(dup, [120, 80]));
      const dw = await encodePostBatch(job(dup, [120, 80]));
      assert.equal(d.rows, dw.rows);
      const titles = async (res: PostBatchResult) =>
        (await Promise.all(res.files.map((f) => rowsOf(f.bytes))))
          .flat()
          .filter((x) => x.id === 's5')
          .map((x) => x.title);
      assert.deepEqual(await titles(d), ['t-s5', 'the later s5'], 'different partitions: both kept');
      dup[100] = post('s5', 'latest s5 in partition 0');
      const d2 = await split.encode(job(dup, [120, 80]));
      assert.deepEqual((await titles(d2)).sort(), ['latest s5 in partition 0', 'the later s5']);
      assert.equal(d2.rows, (await encodePostBatch(job(dup, [120, 80]))).rows);
      assert.equal(d2.duplicates, 1);
    } finally {
      await split.close();
    }
  });
});

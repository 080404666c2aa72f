/** Batch encoding for the ingest pipeline: packing, normalising per partition segment, files, workers. */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { parquetMetadata, parquetReadObjects } from 'hyparquet';
import { encodePostBatch, normaliseJob, packedEntry, PackBuffers, packMessages, WorkerPostBatchEncoder, type PostBatchJob } from '../../src/ingest/post-batch.ts';
import { postTableSchema } from '../../src/reddit/post-schema.ts';

const enc = new TextEncoder();
const post = (id: string, title = `t-${id}`) => enc.encode(JSON.stringify({ id, subreddit: 'x', title, score: 7, created_utc: 1_700_000_000 }));

function job(values: Uint8Array[], segments: number[], buffers?: PackBuffers): PostBatchJob {
  const { data, ends } = packMessages(values, buffers);
  return { data, ends, segments, normalise: {}, schema: postTableSchema('keep'), partitionColumns: [], settings: { codec: 'snappy', numIndexedCols: 32, maxFileBytes: 32 << 20 } };
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
});

describe('normaliseJob', () => {
  it('resolves duplicate ids within a segment (last wins) but not across segments, and reports dead letters by index', () => {
    const values = [post('a', 'first'), post('b'), post('a', 'second'), enc.encode('{oops'), post('a', 'other partition'), enc.encode('[]')];
    const { batch, dead } = normaliseJob(job(values, [4, 2]));
    assert.equal(batch.numRows, 3);
    assert.deepEqual(batch.columns.title, ['second', 't-b', 'other partition']);
    assert.equal(batch.duplicates, 1);
    assert.deepEqual(batch.refs, [2, 1, 4]);
    assert.deepEqual(dead.map((d) => [d.index, new TextDecoder().decode(d.value)]), [[3, '{oops'], [5, '[]']]);
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
    assert.deepEqual((await rowsOf(f.bytes)).map((x) => x.id), ['p1', 'p2', 'p3', 'p4']);
    assert.deepEqual(r.firstRows.map((x) => [x.title, x.score]), [['t-p1', 7], ['t-p2', 7], ['t-p3', 7]]);
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
    assert.deepEqual(r.dead.map((d) => d.index), [17]);
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

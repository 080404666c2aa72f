/**
 * src/parquet/encoder.ts + encode-worker.ts: the worker encoder (Arrow IPC
 * handed to a worker thread running parquet-wasm) writes the same bytes as
 * the inline encoder, for every option, and its failures reach the caller.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { field, struct } from '../../src/delta/schema.ts';
import type { DeltaValue } from '../../src/delta/values.ts';
import { inlineEncoder, WorkerEncoder } from '../../src/parquet/encoder.ts';
import { ValueError, type ParquetWriteOptions } from '../../src/parquet/write.ts';
import { array, decimal, footer, map, P } from './util.ts';

const schema = struct([
  field('id', 'long', false),
  field('title', 'string'),
  field('sub', 'string'),
  field('score', 'integer'),
  field('ratio', 'double'),
  field('created', 'timestamp'),
  field('day', 'date'),
  field('price', decimal(12, 2)),
  field('flag', 'boolean'),
  field('raw', 'binary'),
  field('meta', struct([field('k', 'string'), field('tags', array(P('string')))])),
  field('counts', map(P('string'), P('long'))),
]);

function batch(n: number, seed = 0): Record<string, DeltaValue[]> {
  const rows = Array.from({ length: n }, (_, j) => j + seed);
  return {
    id: rows.map((i) => BigInt(i)),
    title: rows.map((i) => `title number ${i} é😀`),
    sub: rows.map((i) => (i % 5 === 0 ? null : `sub${i % 3}`)),
    score: rows.map((i) => i * 7 - 50),
    ratio: rows.map((i) => (i % 11 === 0 ? NaN : i / 3)),
    created: rows.map((i) => 1_700_000_000_000_000n + BigInt(i)),
    day: rows.map((i) => 19000 + (i % 4)),
    price: rows.map((i) => `${i}.25`),
    flag: rows.map((i) => (i % 3 === 0 ? null : i % 2 === 0)),
    raw: rows.map((i) => new Uint8Array([i & 255, 0, 7])),
    meta: rows.map((i) => (i % 4 === 0 ? null : { k: `k${i}`, tags: ['a', null, `t${i}`] })),
    counts: rows.map((i) => [
      ['x', BigInt(i)],
      ['y', null],
    ]),
  };
}

describe('inline and worker encoders', () => {
  const worker = new WorkerEncoder(2);
  after(() => worker.close());

  it('write identical bytes for the same input and options', async () => {
    const input = batch(3000);
    const optionSets: ParquetWriteOptions[] = [
      {},
      { codec: 'zstd' },
      { codec: 'gzip', rowGroupSize: 1000 },
      { codec: 'uncompressed', noDictionary: [] },
      { noDictionary: ['sub', 'id'] },
    ];
    for (const options of optionSets) {
      const [inline, fromWorker] = await Promise.all([
        inlineEncoder.encode(schema, input, 3000, options),
        worker.encode(schema, input, 3000, options),
      ]);
      assert.ok(fromWorker instanceof Uint8Array && fromWorker.byteLength > 0);
      assert.ok(Buffer.from(inline).equals(Buffer.from(fromWorker)), JSON.stringify(options));
      // and the options took effect in the worker too
      const md = footer(fromWorker);
      assert.equal(md.row_groups[0].columns[0].meta_data!.codec, (options.codec ?? 'snappy').toUpperCase());
      assert.equal(md.row_groups.length, options.rowGroupSize ? 3 : 1);
    }
    // the worker's default noDictionary is the same as inline: "title" is mostly distinct
    const md = footer(await worker.encode(schema, input, 3000));
    const title = md.row_groups[0].columns.find((c) => c.meta_data!.path_in_schema[0] === 'title')!;
    assert.equal(title.meta_data!.dictionary_page_offset, undefined);
  });

  it('concurrent jobs over the pool each get their own result; the input is left intact', async () => {
    const inputs = Array.from({ length: 6 }, (_, k) => batch(200 + k * 50, k * 1000));
    const snapshot = inputs.map((b) => b.id.slice());
    const fromWorker = await Promise.all(inputs.map((b) => worker.encode(schema, b, b.id.length)));
    for (let k = 0; k < inputs.length; k++) {
      const inline = await inlineEncoder.encode(schema, inputs[k], inputs[k].id.length);
      assert.ok(Buffer.from(inline).equals(Buffer.from(fromWorker[k])), `job ${k}`);
      assert.equal(footer(fromWorker[k]).num_rows, BigInt(inputs[k].id.length));
      assert.deepStrictEqual(inputs[k].id, snapshot[k]);
    }
  });

  it('an empty batch encodes the same in both', async () => {
    const empty = Object.fromEntries(schema.fields.map((f) => [f.name, []]));
    const [a, b] = await Promise.all([inlineEncoder.encode(schema, empty, 0), worker.encode(schema, empty, 0)]);
    assert.ok(Buffer.from(a).equals(Buffer.from(b)));
    assert.equal(footer(b).num_rows, 0n);
  });

  it('a value that does not fit is a ValueError from both, and the worker keeps working', async () => {
    const bad = { ...batch(3), score: [1, 'x', 3] };
    await assert.rejects(inlineEncoder.encode(schema, bad, 3), (e: unknown) => e instanceof ValueError);
    await assert.rejects(
      worker.encode(schema, bad, 3),
      (e: unknown) => e instanceof ValueError && e.column === 'score',
    );
    const ok = await worker.encode(schema, batch(3), 3);
    assert.equal(footer(ok).num_rows, 3n);
  });
});

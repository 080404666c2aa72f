/**
 * src/parquet/read.ts: the raw value representation, column subsets, whole
 * versus byte-range reads through the ObjectStore port, and coded errors
 * (MISSING_DATA_FILE, CORRUPT_DATA_FILE) naming the file.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { before, describe, it } from 'node:test';
import { ReddStreamError, type ErrorCode } from '../../src/errors.ts';
import { field, struct } from '../../src/delta/schema.ts';
import { openParquet } from '../../src/parquet/read.ts';
import { encodeColumns } from '../../src/parquet/write.ts';
import { MemoryObjectStore } from '../../src/storage/memory.ts';
import { array, decimal, footer, map, P, roundTrip } from './util.ts';

/** A memory store that records its calls. */
class RecordingStore extends MemoryObjectStore {
  gets: string[] = [];
  heads: string[] = [];
  ranges: Array<[number, number]> = [];
  override async get(path: string): Promise<Uint8Array> {
    this.gets.push(path);
    return super.get(path);
  }
  override async head(path: string) {
    this.heads.push(path);
    return super.head(path);
  }
  override async getRange(path: string, start: number, end: number): Promise<Uint8Array> {
    this.ranges.push([start, end]);
    return super.getRange(path, start, end);
  }
  reset(): void {
    this.gets = [];
    this.heads = [];
    this.ranges = [];
  }
}

const coded = (code: ErrorCode, path: string) => (err: unknown) =>
  err instanceof ReddStreamError && err.code === code && err.message.includes(`memory://t/${path}`);

const schema = struct([
  field('id', 'long', false),
  field('name', 'string'),
  field('meta', struct([field('k', 'string'), field('n', 'integer')])),
  field('tags', array(P('string'))),
]);
const smallColumns = {
  id: [1n, 2n, 3n],
  name: ['a', null, 'c'],
  meta: [{ k: 'x', n: 1 }, null, { k: null, n: 3 }],
  tags: [['t'], [], null],
};

describe('values as read.ts returns them (raw, lossless)', () => {
  it('timestamps as bigint micros, dates as days, decimals unscaled, binary as bytes, text as strings', async () => {
    const s = struct([
      field('ts', 'timestamp'),
      field('tn', 'timestamp_ntz'),
      field('d', 'date'),
      field('d32', decimal(9, 2)),
      field('d64', decimal(18, 2)),
      field('d128', decimal(38, 2)),
      field('bin', 'binary'),
      field('s', 'string'),
      field('sh', 'short'),
      field('l', 'long'),
    ]);
    const { raw } = await roundTrip(
      s,
      {
        ts: [-1_500_001n],
        tn: [1_700_000_000_000_001n],
        d: [-3],
        d32: ['-12.34'],
        d64: ['12345678901234.56'],
        d128: ['-1.00'],
        bin: [new Uint8Array([104, 105])],
        s: ['hi'],
        sh: [-2],
        l: [2n ** 62n],
      },
      1,
    );
    assert.deepStrictEqual(raw[0], {
      ts: -1_500_001n,
      tn: 1_700_000_000_000_001n,
      d: -3,
      d32: -1234,
      d64: 1234567890123456n,
      // 16-byte big-endian two's complement of -100
      d128: new Uint8Array([...Array(15).fill(0xff), 0x9c]),
      bin: new Uint8Array([104, 105]),
      s: 'hi',
      sh: -2,
      l: 2n ** 62n,
    });
  });

  it('structs as objects and lists as arrays; top-level column names only', async () => {
    const { raw, file } = await roundTrip(schema, smallColumns, 3);
    assert.deepEqual(file.columns, ['id', 'name', 'meta', 'tags']);
    assert.equal(file.numRows, 3);
    assert.equal(file.path, 'part-0.parquet');
    assert.equal(file.metadata.num_rows, 3n);
    assert.deepStrictEqual(raw, [
      { id: 1n, name: 'a', meta: { k: 'x', n: 1 }, tags: ['t'] },
      { id: 2n, name: null, meta: null, tags: [] },
      { id: 3n, name: 'c', meta: { k: null, n: 3 }, tags: null },
    ]);
  });
});

describe('reading through the ObjectStore', () => {
  const store = new RecordingStore('t');
  let small: Uint8Array;

  before(async () => {
    small = await encodeColumns(schema, smallColumns, 3);
    await store.put('small.parquet', small);
  });

  it('a column subset: only the wanted columns; unknown names are ignored', async () => {
    const file = await openParquet(store, 'small.parquet');
    assert.deepStrictEqual(await file.readRows(['tags', 'id']), [
      { id: 1n, tags: ['t'] },
      { id: 2n, tags: [] },
      { id: 3n, tags: null },
    ]);
    assert.deepStrictEqual(await file.readRows(['meta', 'nope']), [
      { meta: { k: 'x', n: 1 } },
      { meta: null },
      { meta: { k: null, n: 3 } },
    ]);
    assert.deepStrictEqual(await file.readRows(['nope']), [{}, {}, {}], 'one empty row per row');
    assert.deepStrictEqual(await file.readRows([]), [{}, {}, {}]);
  });

  it('a small file is fetched whole, once; a known size saves the HEAD', async () => {
    store.reset();
    const file = await openParquet(store, 'small.parquet');
    await file.readRows();
    await file.readRows(['id']);
    assert.deepEqual([store.heads.length, store.gets.length, store.ranges.length], [1, 1, 0]);
    store.reset();
    await (await openParquet(store, 'small.parquet', small.byteLength)).readRows();
    assert.deepEqual([store.heads.length, store.gets.length, store.ranges.length], [0, 1, 0]);
  });

  it('a file over 4 MiB is read in byte ranges: the footer, then only the wanted column chunks', async () => {
    const s = struct([field('id', 'long', false), field('blob', 'binary'), field('label', 'string')]);
    const n = 600;
    const cols = {
      id: Array.from({ length: n }, (_, i) => BigInt(i)),
      blob: Array.from({ length: n }, () => new Uint8Array(randomBytes(8 * 1024))),
      label: Array.from({ length: n }, (_, i) => `label ${i}`),
    };
    const bytes = await encodeColumns(s, cols, n, { codec: 'uncompressed', rowGroupSize: 200 });
    assert.ok(bytes.byteLength > 4 * 1024 * 1024, `${bytes.byteLength} bytes`);
    await store.put('big.parquet', bytes);
    store.reset();

    const file = await openParquet(store, 'big.parquet', bytes.byteLength);
    assert.deepEqual([store.heads.length, store.gets.length], [0, 0]);
    assert.ok(store.ranges.length >= 1);
    assert.equal(store.ranges[0][1], bytes.byteLength, 'the footer comes from the end of the file');
    assert.equal(file.numRows, n);

    store.reset();
    const rows = await file.readRows(['id', 'label']);
    assert.deepStrictEqual(
      rows,
      cols.id.map((id, i) => ({ id, label: cols.label[i] })),
    );
    assert.equal(store.gets.length, 0);
    const fetched = store.ranges.reduce((a, [from, to]) => a + to - from, 0);
    const md = footer(bytes);
    const wanted = md.row_groups
      .flatMap((rg) => rg.columns)
      .filter((c) => c.meta_data!.path_in_schema[0] !== 'blob')
      .reduce((a, c) => a + Number(c.meta_data!.total_compressed_size), 0);
    assert.ok(fetched >= wanted, `fetched ${fetched} >= the wanted chunks ${wanted}`);
    assert.ok(fetched < bytes.byteLength / 8, `fetched ${fetched} of ${bytes.byteLength} bytes`);

    store.reset();
    const all = await file.readRows();
    assert.deepStrictEqual(
      all.map((r) => r.blob),
      cols.blob,
    );
    assert.equal(store.gets.length, 0);
  });
});

describe('coded errors naming the file', () => {
  const store = new MemoryObjectStore('t');
  let good: Uint8Array;

  before(async () => {
    good = await encodeColumns(schema, smallColumns, 3);
  });

  it('a missing file: MISSING_DATA_FILE, with or without a known size', async () => {
    await assert.rejects(openParquet(store, 'gone.parquet'), coded('MISSING_DATA_FILE', 'gone.parquet'));
    await assert.rejects(openParquet(store, 'gone.parquet', 1234), coded('MISSING_DATA_FILE', 'gone.parquet'));
  });

  it('empty, not Parquet, or truncated: CORRUPT_DATA_FILE when opened, with the cause', async () => {
    const half = good.slice(0, good.length >> 1);
    const noFooter = good.slice(0, good.length - 10);
    // magic and footer length intact, but the footer's first bytes are cut out
    const footerLength = new DataView(good.buffer, good.byteOffset).getUint32(good.length - 8, true);
    const cutFooter = new Uint8Array([...good.slice(0, good.length - 8 - footerLength), ...good.slice(-8 - 20)]);
    const cases: Array<[string, Uint8Array]> = [
      ['empty.parquet', new Uint8Array(0)],
      ['text.parquet', new TextEncoder().encode('{"this": "is json, not parquet"}')],
      ['half.parquet', half],
      ['nofooter.parquet', noFooter],
      ['cutfooter.parquet', cutFooter],
    ];
    for (const [path, bytes] of cases) {
      await store.put(path, bytes);
      await assert.rejects(
        openParquet(store, path),
        (err: unknown) => coded('CORRUPT_DATA_FILE', path)(err) && (err as Error).cause instanceof Error,
        path,
      );
    }
  });

  it('a damaged page: CORRUPT_DATA_FILE when its rows are read', async () => {
    const damaged = good.slice();
    const first = footer(good).row_groups[0].columns[0].meta_data!;
    const pageStart = Number(first.dictionary_page_offset ?? first.data_page_offset);
    damaged.fill(0xff, pageStart, pageStart + 16); // the first page header is no longer valid thrift
    await store.put('damaged.parquet', damaged);
    const file = await openParquet(store, 'damaged.parquet');
    await assert.rejects(file.readRows(['id']), coded('CORRUPT_DATA_FILE', 'damaged.parquet'));
    assert.deepStrictEqual(
      await file.readRows(['name']),
      [{ name: 'a' }, { name: null }, { name: 'c' }],
      'other columns still read',
    );
  });

  it('other store errors pass through unchanged', async () => {
    const failing = new (class extends MemoryObjectStore {
      override async get(): Promise<Uint8Array> {
        throw new ReddStreamError('STORAGE_UNAVAILABLE', 'slow down');
      }
    })('t');
    await failing.put('x.parquet', good);
    await assert.rejects(
      openParquet(failing, 'x.parquet'),
      (err: unknown) => err instanceof ReddStreamError && err.code === 'STORAGE_UNAVAILABLE' && err.retryable,
    );
  });
});

describe('byte-range reads (files over 4 MiB): store errors', () => {
  const big = 5 * 1024 * 1024;

  it('a file that is gone is MISSING_DATA_FILE, and a retryable store error stays retryable', async () => {
    await assert.rejects(
      openParquet(new MemoryObjectStore('t'), 'gone.parquet', big),
      coded('MISSING_DATA_FILE', 'gone.parquet'),
    );
    const flaky = new (class extends MemoryObjectStore {
      override async getRange(): Promise<Uint8Array> {
        throw new ReddStreamError('STORAGE_UNAVAILABLE', 'S3 503 slow down');
      }
    })('t');
    await assert.rejects(
      openParquet(flaky, 'x.parquet', big),
      (err: unknown) => err instanceof ReddStreamError && err.retryable,
    );
  });

  it('the same when the column chunks are read after the footer', async () => {
    const s = struct([field('blob', 'binary')]);
    const n = 5;
    const bytes = await encodeColumns(
      s,
      { blob: Array.from({ length: n }, () => new Uint8Array(randomBytes(1024 * 1024))) },
      n,
      { codec: 'uncompressed' },
    );
    assert.ok(bytes.byteLength > 4 * 1024 * 1024);
    const outage = new ReddStreamError('STORAGE_UNAVAILABLE', 'S3 503 slow down');
    const store = new (class extends MemoryObjectStore {
      fail: Error | undefined;
      override async getRange(path: string, start: number, end: number): Promise<Uint8Array> {
        if (this.fail) throw this.fail;
        return super.getRange(path, start, end);
      }
    })('t');
    await store.put('big.parquet', bytes);
    const file = await openParquet(store, 'big.parquet', bytes.byteLength);
    store.fail = outage;
    await assert.rejects(file.readRows(), (err: unknown) => err === outage);
    await store.delete('big.parquet');
    store.fail = undefined;
    await assert.rejects(file.readRows(), coded('MISSING_DATA_FILE', 'big.parquet'));
  });
});

describe('maps as [key, value] pairs in file order', () => {
  it('binary, date and timestamp keys, and any string key', async () => {
    const s = struct([
      field('bin', map(P('binary'), P('string'))),
      field('date', map(P('date'), P('string'))),
      field('ts', map(P('timestamp'), P('string'))),
      field('str', map(P('string'), P('integer'))),
    ]);
    const columns = {
      bin: [[[new Uint8Array([0xff, 1]), 'x']]],
      date: [[[19000, 'x']]],
      ts: [[[1_700_000_000_000_000n, 'x']]],
      str: [
        [
          ['__proto__', 1],
          ['b', 2],
          ['2', 3],
        ],
      ],
    };
    const back = await roundTrip(s, columns, 1).then((r) => r.columns);
    assert.deepStrictEqual(back, columns);
  });

  it('nested in lists, structs and maps; null and empty maps; null values', async () => {
    const s = struct([
      field('lm', array(map(P('date'), map(P('binary'), P('long'))))),
      field('st', struct([field('m', map(P('string'), P('string'))), field('n', 'integer')])),
      field('ml', map(P('integer'), array(P('string')))),
    ]);
    const { raw } = await roundTrip(
      s,
      {
        lm: [[[[3, [[new Uint8Array([1]), 5n]]]], null], null, [[]]],
        st: [{ m: [['a', null]], n: 1 }, null, { m: null, n: 2 }],
        ml: [
          [
            [2, ['x']],
            [1, null],
          ],
          [],
          null,
        ],
      },
      3,
    );
    assert.deepStrictEqual(raw, [
      {
        lm: [[[3, [[new Uint8Array([1]), 5n]]]], null],
        st: { m: [['a', null]], n: 1 },
        ml: [
          [2, ['x']],
          [1, null],
        ],
      },
      { lm: null, st: null, ml: [] },
      { lm: [[]], st: { m: null, n: 2 }, ml: null },
    ]);
  });
});

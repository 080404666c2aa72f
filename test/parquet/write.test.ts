/**
 * src/parquet/write.ts + wasm-writer.ts: Delta values encoded by the writer and
 * read back by read.ts (mapped onto the schema with coerceValue, as the Delta
 * reader does) equal the input; edge values; the writer options as they show
 * in the file's footer.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { field, struct } from '../../src/delta/schema.ts';
import type { DeltaValue } from '../../src/delta/values.ts';
import { encodeColumns, mostlyDistinctColumns, ValueError, type Codec } from '../../src/parquet/write.ts';
import { array, decimal, footer, map, P, roundTrip } from './util.ts';

const enc = new TextEncoder();

describe('round trip of every type', () => {
  it('primitives and decimals, with nulls', async () => {
    const schema = struct([
      field('s', 'string'),
      field('l', 'long'),
      field('i', 'integer'),
      field('sh', 'short'),
      field('b', 'byte'),
      field('f', 'float'),
      field('d', 'double'),
      field('bo', 'boolean'),
      field('bin', 'binary'),
      field('dt', 'date'),
      field('ts', 'timestamp'),
      field('tn', 'timestamp_ntz'),
      field('d32', decimal(9, 2)),
      field('d64', decimal(18, 4)),
      field('d128', decimal(38, 10)),
      field('req', 'long', false),
    ]);
    const columns: Record<string, DeltaValue[]> = {
      s: ['a', 'é😀 text', null, 'zz'],
      l: [1n, -5n, null, 1_700_000_000_000_000n],
      i: [0, -7, 123456, null],
      sh: [null, -300, 300, 1],
      b: [-1, null, 127, 0],
      f: [1.5, -2.25, null, 0.125],
      d: [Math.PI, null, -1e-300, 1e300],
      bo: [true, false, null, true],
      bin: [new Uint8Array([0, 255, 1]), null, new Uint8Array([0xde, 0xad]), new Uint8Array([7])],
      dt: [19000, 0, null, -1],
      ts: [1_700_000_000_123_456n, null, 0n, -1n],
      tn: [null, 1_600_000_000_000_001n, 5n, -86_400_000_000n],
      d32: ['1234567.89', '-0.01', null, '0.00'],
      d64: ['12345678901234.5678', null, '-1.0000', '0.0001'],
      d128: ['1234567890123456789012345678.0123456789', '-0.0000000001', '1.0000000000', null],
      req: [10n, 11n, 12n, 13n],
    };
    const { columns: back, file } = await roundTrip(schema, columns, 4);
    assert.equal(file.numRows, 4);
    assert.deepEqual(file.columns, Object.keys(columns));
    for (const name of Object.keys(columns)) assert.deepStrictEqual(back[name], columns[name], `column ${name}`);
  });

  it('structs, arrays and maps, nested, with nulls at every level', async () => {
    const inner = struct([field('x', 'string'), field('y', 'long')]);
    const schema = struct([
      field('st', struct([field('a', 'integer'), field('n', inner), field('tags', array(P('string')))])),
      field('arr', array(P('long'))),
      field('nested', array(array(P('string')))),
      field('objs', array(inner)),
      field('m', map(P('string'), P('long'))),
      field('mi', map(P('integer'), P('string'))),
      field('ml', map(P('long'), P('double'))),
      field('ms', map(P('string'), inner)),
      field('mm', map(P('string'), array(P('integer')))),
      field('req', struct([field('k', 'string', false), field('v', array(P('integer'), false), false)]), false),
    ]);
    const columns: Record<string, DeltaValue[]> = {
      st: [
        { a: 1, n: { x: 'p', y: 2n }, tags: ['t', null] },
        { a: null, n: null, tags: null },
        null,
        { a: 4, n: { x: null, y: null }, tags: [] },
      ],
      arr: [[1n, null, 3n], [], null, [null]],
      nested: [[['a', null], null, []], [], null, [[], ['b']]],
      objs: [[{ x: 'a', y: 1n }, null, { x: null, y: null }], null, [], [{ x: 'z', y: -1n }]],
      m: [
        [
          ['k', 1n],
          ['j', null],
        ],
        [],
        null,
        [['only', -9n]],
      ],
      mi: [
        [
          [3, 'x'],
          [-1, null],
        ],
        null,
        [],
        [[2147483647, 'max']],
      ],
      ml: [[[-5n, 0.5]], [[9007199254740993n, -0]], null, []],
      ms: [
        [
          ['a', { x: 'q', y: 1n }],
          ['b', null],
        ],
        [['c', { x: null, y: null }]],
        null,
        [],
      ],
      mm: [
        [
          ['a', [1, null, 2]],
          ['b', null],
          ['c', []],
        ],
        null,
        [],
        [['d', [0]]],
      ],
      req: [
        { k: 'a', v: [1, 2] },
        { k: '', v: [] },
        { k: 'c', v: [3] },
        { k: 'd', v: [4, 5, 6] },
      ],
    };
    const { columns: back } = await roundTrip(schema, columns, 4);
    for (const name of Object.keys(columns)) assert.deepStrictEqual(back[name], columns[name], `column ${name}`);
  });

  it('a column missing from the input is written as all nulls', async () => {
    const schema = struct([field('a', 'long'), field('b', struct([field('c', 'string')]))]);
    const { columns } = await roundTrip(schema, { a: [1n, 2n] }, 2);
    assert.deepStrictEqual(columns, { a: [1n, 2n], b: [null, null] });
  });

  it('long and timestamp columns accept numbers and read back as bigint', async () => {
    const schema = struct([field('l', 'long'), field('ts', 'timestamp')]);
    const unsafe = 2 ** 60; // an integer, but beyond the safe range: goes through BigInt
    const { columns } = await roundTrip(
      schema,
      {
        l: [0, -1, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER, unsafe],
        ts: [1, -1, 4294967296, -4294967297, null],
      },
      5,
    );
    assert.deepStrictEqual(columns.l, [0n, -1n, 9007199254740991n, -9007199254740991n, 1152921504606846976n]);
    assert.deepStrictEqual(columns.ts, [1n, -1n, 4294967296n, -4294967297n, null]);
  });

  it('many rows over several row groups keep their order and values', async () => {
    const n = 5000;
    const schema = struct([field('id', 'long', false), field('s', 'string'), field('a', array(P('integer')))]);
    const columns = {
      id: Array.from({ length: n }, (_, i) => BigInt(i)),
      s: Array.from({ length: n }, (_, i) => (i % 7 === 0 ? null : `row ${i}`)),
      a: Array.from({ length: n }, (_, i) => (i % 5 === 0 ? null : Array.from({ length: i % 4 }, (_, j) => i + j))),
    };
    const { columns: back, bytes } = await roundTrip(schema, columns, n, { rowGroupSize: 1024 });
    assert.equal(footer(bytes).row_groups.length, 5);
    assert.deepStrictEqual(back, columns);
  });
});

describe('edge values', () => {
  it('empty strings and empty bytes stay distinct from null', async () => {
    const schema = struct([field('s', 'string'), field('b', 'binary'), field('a', array(P('string')))]);
    const columns: Record<string, DeltaValue[]> = {
      s: ['', null, ' ', ''],
      b: [new Uint8Array(0), null, new Uint8Array([0]), null],
      a: [[''], [null], [], null],
    };
    const { columns: back, raw, bytes } = await roundTrip(schema, columns, 4);
    assert.deepStrictEqual(back, columns);
    assert.equal(raw[0].s, '');
    assert.equal(raw[1].s, null);
    const nullCounts = footer(bytes).row_groups[0].columns.map((c) => c.meta_data!.statistics?.null_count);
    assert.deepEqual(nullCounts.slice(0, 2), [1n, 2n]);
  });

  it('doubles and floats: NaN, -0, infinities, extremes', async () => {
    const schema = struct([field('d', 'double'), field('f', 'float')]);
    const d = [NaN, -0, 0, Infinity, -Infinity, Number.MAX_VALUE, Number.MIN_VALUE, -Number.EPSILON, null];
    // exactly representable as float32
    const f = [NaN, -0, 0, Infinity, -Infinity, 3.4028234663852886e38, 1.401298464324817e-45, -0.5, null];
    const { columns } = await roundTrip(schema, { d, f }, d.length);
    assert.deepStrictEqual(columns.d, d); // deepStrictEqual: Object.is, so -0 !== 0 and NaN === NaN
    assert.deepStrictEqual(columns.f, f);
  });

  it('a float column rounds to float32 (0.1 is not exact)', async () => {
    const schema = struct([field('f', 'float')]);
    const { columns } = await roundTrip(schema, { f: [0.1] }, 1);
    assert.deepStrictEqual(columns.f, [Math.fround(0.1)]);
  });

  it('integer types at their bounds, and a ValueError just beyond them', async () => {
    const schema = struct([field('l', 'long'), field('i', 'integer'), field('s', 'short'), field('b', 'byte')]);
    const columns = {
      l: [-(2n ** 63n), 2n ** 63n - 1n, 0n],
      i: [-(2 ** 31), 2 ** 31 - 1, 0],
      s: [-32768, 32767, 0],
      b: [-128, 127, 0],
    };
    const { columns: back } = await roundTrip(schema, columns, 3);
    assert.deepStrictEqual(back, columns);
    for (const [name, bad] of [
      ['i', 2 ** 31],
      ['i', -(2 ** 31) - 1],
      ['s', 32768],
      ['s', -32769],
      ['b', 128],
      ['b', -129],
      ['i', 1.5],
    ] as const) {
      const cols: Record<string, DeltaValue[]> = { ...columns, [name]: [0, bad, 0] };
      await assert.rejects(
        encodeColumns(schema, cols, 3),
        (err: unknown) => err instanceof ValueError && err.column === name && err.message.includes(String(bad)),
        `${name} = ${bad}`,
      );
    }
  });

  it('decimals at each physical width: the largest and smallest values of the precision', async () => {
    // INT32 up to precision 9, INT64 up to 18, fixed-length bytes beyond
    const cases: Array<[number, number]> = [
      [1, 0],
      [9, 0],
      [9, 9],
      [10, 2],
      [18, 0],
      [18, 18],
      [19, 0],
      [38, 0],
      [38, 38],
      [38, 6],
    ];
    const schema = struct(cases.map(([p, s]) => field(`d${p}_${s}`, decimal(p, s))));
    const columns: Record<string, DeltaValue[]> = {};
    for (const [p, s] of cases) {
      const digits = '9'.repeat(p);
      const max = s === 0 ? digits : `${digits.slice(0, p - s) || '0'}.${digits.slice(p - s)}`;
      const tiny = s === 0 ? '1' : `0.${'0'.repeat(s - 1)}1`;
      columns[`d${p}_${s}`] = [max, `-${max}`, tiny, `-${tiny}`, s === 0 ? '0' : `0.${'0'.repeat(s)}`, null];
    }
    const { columns: back, bytes } = await roundTrip(schema, columns, 6);
    assert.deepStrictEqual(back, columns);
    const physical = Object.fromEntries(
      footer(bytes)
        .schema.slice(1)
        .map((e) => [e.name, e.type]),
    );
    assert.equal(physical.d9_0, 'INT32');
    assert.equal(physical.d10_2, 'INT64');
    assert.equal(physical.d18_18, 'INT64');
    assert.equal(physical.d19_0, 'FIXED_LEN_BYTE_ARRAY');
  });

  it('decimals: one past the precision, or more fraction digits than the scale, is a ValueError', async () => {
    const bad: Array<[number, number, string]> = [
      [9, 0, '1000000000'],
      [18, 0, '-1000000000000000000'],
      [38, 0, '1' + '0'.repeat(38)],
      [5, 2, '1000.00'],
      [5, 2, '1.234'],
      [5, 2, 'abc'],
    ];
    for (const [p, s, v] of bad) {
      const schema = struct([field('x', decimal(p, s))]);
      await assert.rejects(
        encodeColumns(schema, { x: [v] }, 1),
        (err: unknown) => err instanceof ValueError && err.column === 'x',
        `decimal(${p},${s}) ${v}`,
      );
    }
  });

  it('decimals accept trailing zeros, exponents, bigint and number input, and read back with the scale', async () => {
    const schema = struct([field('x', decimal(10, 2))]);
    const { columns } = await roundTrip(schema, { x: ['1.500', '1e3', 5n, 2.25, -7, '-.5'] }, 6);
    assert.deepStrictEqual(columns.x, ['1.50', '1000.00', '5.00', '2.25', '-7.00', '-0.50']);
  });

  it('dates and timestamps before 1970 and at the ends of the calendar', async () => {
    const schema = struct([field('d', 'date'), field('ts', 'timestamp'), field('tn', 'timestamp_ntz')]);
    const columns = {
      d: [-1, -719162 /* 0001-01-01 */, 2932896 /* 9999-12-31 */, -25567 /* 1900-01-01 */],
      ts: [-1n, -62135596800000000n, 253402300799999999n, -2208988800000001n],
      tn: [-999_999n, -62135596800000000n, 253402300799999999n, 1n],
    };
    const { columns: back, raw } = await roundTrip(schema, columns, 4);
    assert.deepStrictEqual(back, columns);
    assert.equal(raw[0].ts, -1n, 'read.ts returns timestamps as bigint microseconds (no Date, no rounding)');
  });

  it('very long strings and binaries', async () => {
    const long = 'é😀x'.repeat(300_000); // 2.1 MB of UTF-8
    const blob = new Uint8Array(1_500_000).map((_, i) => (i * 31) & 255);
    const schema = struct([field('s', 'string'), field('b', 'binary')]);
    const columns = { s: [long, 'short', long + '!'], b: [blob, null, blob.subarray(7)] };
    const { columns: back } = await roundTrip(schema, columns, 3, { codec: 'uncompressed' });
    assert.equal((back.s[0] as string).length, long.length);
    assert.ok(back.s[0] === long && back.s[2] === long + '!' && back.s[1] === 'short');
    assert.deepStrictEqual(back.b, [blob, null, blob.slice(7)]);
  });

  it('an empty batch (0 rows) is a valid file with the schema and no rows', async () => {
    const schema = struct([field('id', 'long', false), field('s', 'string'), field('m', map(P('string'), P('long')))]);
    const { bytes, file, raw } = await roundTrip(schema, { id: [], s: [], m: [] }, 0);
    const md = footer(bytes);
    assert.equal(md.num_rows, 0n);
    assert.equal(md.row_groups.length, 0);
    assert.deepEqual(file.columns, ['id', 's', 'm']);
    assert.equal(file.numRows, 0);
    assert.deepEqual(raw, []);
  });

  it('values that do not fit their column: ValueError naming the top-level column; wrong lengths: RangeError', async () => {
    const schema = struct([
      field('id', 'long', false),
      field('s', 'string'),
      field('flag', 'boolean'),
      field('st', struct([field('inner', struct([field('n', 'integer')]))])),
      field('arr', array(P('double'))),
    ]);
    const ok = { id: [1n], s: ['a'], flag: [true], st: [null], arr: [null] };
    const bad: Array<[string, DeltaValue]> = [
      ['id', null],
      ['id', 1.5],
      ['s', 5],
      ['flag', 1],
      ['st', { inner: { n: 'x' } }],
      ['arr', 'not an array'],
      ['arr', ['x']],
    ];
    for (const [name, v] of bad) {
      await assert.rejects(
        encodeColumns(schema, { ...ok, [name]: [v] }, 1),
        (err: unknown) => err instanceof ValueError && err.column === name && err.message.includes(name),
        `${name} = ${JSON.stringify(v)}`,
      );
    }
    await assert.rejects(encodeColumns(schema, { ...ok, s: ['a', 'b'] }, 1), RangeError);
  });
});

describe('writer options in the footer', () => {
  const schema = struct([field('id', 'long', false), field('few', 'string'), field('unique', 'string')]);
  const n = 1000;
  const columns = {
    id: Array.from({ length: n }, (_, i) => BigInt(i)),
    few: Array.from({ length: n }, (_, i) => (i % 10 === 9 ? null : `v${i % 3}`)),
    unique: Array.from({ length: n }, (_, i) => `unique value ${i}`),
  };

  it('codec: every column chunk uses it, snappy by default, and the file reads back', async () => {
    const expected: Array<[Codec | undefined, string]> = [
      [undefined, 'SNAPPY'],
      ['snappy', 'SNAPPY'],
      ['zstd', 'ZSTD'],
      ['gzip', 'GZIP'],
      ['uncompressed', 'UNCOMPRESSED'],
    ];
    for (const [codec, name] of expected) {
      const { bytes, columns: back } = await roundTrip(schema, columns, n, codec ? { codec } : {});
      const chunks = footer(bytes).row_groups.flatMap((rg) => rg.columns.map((c) => c.meta_data!));
      assert.deepEqual(new Set(chunks.map((c) => c.codec)), new Set([name]), String(codec));
      const compressed = chunks.reduce((a, c) => a + c.total_compressed_size, 0n);
      const uncompressed = chunks.reduce((a, c) => a + c.total_uncompressed_size, 0n);
      if (name === 'UNCOMPRESSED') assert.equal(compressed, uncompressed);
      else assert.ok(compressed < uncompressed, `${name} compresses: ${compressed} < ${uncompressed}`);
      assert.deepStrictEqual(back, columns, String(codec));
    }
  });

  it('rowGroupSize: rows per row group; the default keeps 1000 rows in one', async () => {
    const sizes = (rowGroupSize?: number) =>
      encodeColumns(schema, columns, n, { rowGroupSize }).then((b) =>
        footer(b).row_groups.map((rg) => Number(rg.num_rows)),
      );
    assert.deepEqual(await sizes(300), [300, 300, 300, 100]);
    assert.deepEqual(await sizes(1000), [1000]);
    assert.deepEqual(await sizes(1), Array(n).fill(1));
    assert.deepEqual(await sizes(), [1000]);
  });

  it('dictionary: off for mostly distinct text columns by default, or as listed in noDictionary', async () => {
    const dictionaryColumns = async (noDictionary?: string[]) => {
      const bytes = await encodeColumns(schema, columns, n, noDictionary ? { noDictionary } : {});
      return footer(bytes)
        .row_groups[0].columns.filter((c) => c.meta_data!.dictionary_page_offset !== undefined)
        .map((c) => {
          assert.ok(c.meta_data!.encodings.includes('RLE_DICTIONARY'));
          return c.meta_data!.path_in_schema.join('.');
        });
    };
    assert.deepEqual(await dictionaryColumns(), ['id', 'few']);
    assert.deepEqual(await dictionaryColumns([]), ['id', 'few', 'unique']);
    assert.deepEqual(await dictionaryColumns(['few', 'id']), ['unique']);
  });

  it('statistics: null count, min and max for every column chunk (always on: no option turns them off)', async () => {
    const bytes = await encodeColumns(schema, columns, n, { rowGroupSize: 500 });
    const md = footer(bytes);
    assert.equal(md.created_by, 'reddit-stream delta writer (parquet-wasm)');
    const stats = md.row_groups.map((rg) => rg.columns.map((c) => c.meta_data!.statistics!));
    assert.deepEqual(
      stats.map(([id]) => [id.min_value, id.max_value, id.null_count]),
      [
        [0n, 499n, 0n],
        [500n, 999n, 0n],
      ],
    );
    assert.deepEqual(
      stats.map(([, few]) => [few.min_value, few.max_value, few.null_count]),
      [
        ['v0', 'v2', 50n],
        ['v0', 'v2', 50n],
      ],
    );
    assert.deepEqual(
      stats.map(([, , u]) => [u.min_value, u.max_value, u.null_count]),
      [
        ['unique value 0', 'unique value 99', 0n],
        ['unique value 500', 'unique value 999', 0n],
      ],
    );
  });

  it('mostlyDistinctColumns: top-level string columns with more than half distinct among >= 16 sampled values', () => {
    const s = struct([
      field('distinct', 'string'),
      field('repeated', 'string'),
      field('sparse', 'string'),
      field('half', 'string'),
      field('bin', 'binary'),
      field('num', 'long'),
      field('absent', 'string'),
    ]);
    const rows = 40;
    const cols = {
      distinct: Array.from({ length: rows }, (_, i) => `d${i}`),
      repeated: Array.from({ length: rows }, (_, i) => `r${i % 3}`),
      // 15 non-null values: too few to judge
      sparse: Array.from({ length: rows }, (_, i) => (i < 15 ? `s${i}` : null)),
      // exactly half distinct is not "more than half"
      half: Array.from({ length: rows }, (_, i) => `h${i % 20}`),
      bin: Array.from({ length: rows }, (_, i) => enc.encode(`b${i}`)),
      num: Array.from({ length: rows }, (_, i) => BigInt(i)),
    };
    assert.deepEqual(mostlyDistinctColumns(s, cols, rows), ['distinct']);
    // only the first 256 non-null values are sampled
    const late = Array.from({ length: 600 }, (_, i) => (i < 300 ? 'same' : `x${i}`));
    assert.deepEqual(mostlyDistinctColumns(struct([field('late', 'string')]), { late }, 600), []);
    assert.deepEqual(mostlyDistinctColumns(s, cols, 0), []);
  });
});

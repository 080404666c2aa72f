/**
 * src/parquet/arrow.ts: Delta types to Arrow types, Delta values to Arrow
 * buffers (validity bitmaps, offsets, 128-bit decimals, int64 words), and the
 * ValueError / RangeError contract of buildTable.
 */
import * as arrow from 'apache-arrow';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { field, struct, type DataType } from '../../src/delta/schema.ts';
import type { DeltaValue } from '../../src/delta/values.ts';
import { arrowType, buildData, buildTable } from '../../src/parquet/arrow.ts';
import { encodeColumns, ValueError } from '../../src/parquet/write.ts';
import { array, decimal, map, P } from './util.ts';

const isValueError = (column: string) => (err: unknown) => err instanceof ValueError && err.column === column;

describe('arrowType', () => {
  it('maps each primitive type', () => {
    const expected: Array<[DataType, string]> = [
      [P('string'), 'Utf8'],
      [P('long'), 'Int64'],
      [P('integer'), 'Int32'],
      [P('short'), 'Int16'],
      [P('byte'), 'Int8'],
      [P('float'), 'Float32'],
      [P('double'), 'Float64'],
      [P('boolean'), 'Bool'],
      [P('binary'), 'Binary'],
      [P('date'), 'Date32<DAY>'],
      [P('timestamp'), 'Timestamp<MICROSECOND, UTC>'],
      [P('timestamp_ntz'), 'Timestamp<MICROSECOND>'],
    ];
    for (const [t, s] of expected) assert.equal(String(arrowType(t)), s, JSON.stringify(t));
  });

  it('maps decimals to 128-bit decimals with their precision and scale', () => {
    const t = arrowType(decimal(12, 3)) as arrow.Decimal;
    assert.ok(t instanceof arrow.Decimal);
    assert.deepEqual([t.precision, t.scale, t.bitWidth], [12, 3, 128]);
  });

  it('carries nullability into nested fields: list elements, map values (keys never null), struct fields', () => {
    const list = arrowType(array(P('long'), false)) as arrow.List;
    assert.deepEqual([list.children[0].name, list.children[0].nullable], ['element', false]);
    assert.equal((arrowType(array(P('long'), true)) as arrow.List).children[0].nullable, true);
    for (const valueContainsNull of [true, false]) {
      const m = arrowType(map(P('string'), P('integer'), valueContainsNull)) as arrow.Map_;
      const entry = m.children[0];
      assert.equal(entry.nullable, false);
      assert.deepEqual(
        (entry.type as arrow.Struct).children.map((c) => [c.name, c.nullable, String(c.type)]),
        [
          ['key', false, 'Utf8'],
          ['value', valueContainsNull, 'Int32'],
        ],
      );
    }
    const s = arrowType(struct([field('a', 'long', false), field('b', 'string')])) as arrow.Struct;
    assert.deepEqual(
      s.children.map((c) => [c.name, c.nullable]),
      [
        ['a', false],
        ['b', true],
      ],
    );
  });
});

describe('buildData', () => {
  it('validity: a bitmap only when there are nulls; undefined counts as null', () => {
    const withNulls = buildData(P('integer'), [1, null, 3, undefined as unknown as DeltaValue, 5], 'c');
    assert.equal(withNulls.nullCount, 2);
    assert.deepEqual([...withNulls.nullBitmap!], [0b10101]);
    const none = buildData(P('integer'), [1, 2], 'c');
    assert.equal(none.nullCount, 0);
    assert.equal(none.nullBitmap?.length ?? 0, 0);
  });

  it('long: bigints, and safe integers written as two 32-bit words (negative ones too)', () => {
    const d = buildData(P('long'), [-1, 4294967296, -4294967297, Number.MIN_SAFE_INTEGER, 7n, null, 2 ** 62], 'c');
    assert.deepEqual(
      [...(d.values as BigInt64Array)],
      [-1n, 4294967296n, -4294967297n, -9007199254740991n, 7n, 0n, 4611686018427387904n],
    );
  });

  it('decimal: unscaled value as 128-bit two’s complement, little-endian words', () => {
    const d = buildData(decimal(20, 2), ['1.5', '-0.01', null, '-184467440737095516.16'], 'c');
    const words = [...(d.values as Uint32Array)];
    assert.deepEqual(words.slice(0, 4), [150, 0, 0, 0]);
    assert.deepEqual(words.slice(4, 8), [0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff]);
    assert.deepEqual(words.slice(8, 12), [0, 0, 0, 0]);
    // -2^64
    assert.deepEqual(words.slice(12, 16), [0, 0, 0xffffffff, 0xffffffff]);
  });

  it('string and binary: byte offsets (UTF-8 lengths), nulls as empty slots', () => {
    const d = buildData(P('string'), ['é', null, '😀x', ''], 'c');
    assert.deepEqual([...(d.valueOffsets as Int32Array)], [0, 2, 2, 7, 7]);
    assert.equal(Buffer.from(d.values as Uint8Array).toString('utf8'), 'é😀x');
    const b = buildData(P('binary'), [new Uint8Array([1, 2]), 'A'], 'c');
    assert.deepEqual([...(b.values as Uint8Array)], [1, 2, 65]);
  });

  it('boolean: packed bits', () => {
    const d = buildData(P('boolean'), [true, false, true, true, null, false, false, false, true], 'c');
    assert.deepEqual([...(d.values as Uint8Array)], [0b00001101, 0b1]);
  });

  it('list and map: offsets over the flattened children', () => {
    const l = buildData(array(P('integer')), [[1, 2], null, [], [3]], 'c');
    assert.deepEqual([...(l.valueOffsets as Int32Array)], [0, 2, 2, 2, 3]);
    assert.equal(l.children[0].length, 3);
    const m = buildData(map(P('string'), P('long')), [{ a: 1n, b: 2n }, null, [['c', 3n]]], 'c');
    assert.deepEqual([...(m.valueOffsets as Int32Array)], [0, 2, 2, 3]);
    const keys = m.children[0].children[0];
    assert.equal(Buffer.from(keys.values as Uint8Array).toString(), 'abc', 'a map may be given as an object too');
  });

  it('ValueError names the top-level column of a nested value', () => {
    const t = struct([field('inner', array(map(P('string'), P('integer'))))]);
    assert.throws(
      () => buildData(t, [{ inner: [[['k', 'not a number']]] }], 'top'),
      (err: unknown) => isValueError('top')(err) && /column top\.inner\[\]\.value/.test((err as Error).message),
    );
  });
});

describe('buildTable', () => {
  const schema = struct([field('id', 'long', false), field('s', 'string')]);

  it('a table with the schema’s fields; a missing column is all nulls', () => {
    const t = buildTable(schema, { id: [1n, 2n] }, 2);
    assert.equal(t.numRows, 2);
    assert.deepEqual(
      t.schema.fields.map((f) => [f.name, String(f.type), f.nullable]),
      [
        ['id', 'Int64', false],
        ['s', 'Utf8', true],
      ],
    );
    assert.equal(t.getChild('s')!.nullCount, 2);
    assert.deepEqual([...t.getChild('id')!.toArray()], [1n, 2n]);
  });

  it('a null in a required column is a ValueError naming column and row', () => {
    assert.throws(
      () => buildTable(schema, { id: [1n, null], s: ['a', 'b'] }, 2),
      (err: unknown) => isValueError('id')(err) && /row 1/.test((err as Error).message),
    );
  });

  it('a column of another length is a RangeError', () => {
    assert.throws(() => buildTable(schema, { id: [1n], s: ['a', 'b'] }, 1), /column s has 2 values, expected 1/);
  });
});

describe('values a column cannot hold are a ValueError naming the column', () => {
  it('long and timestamp values outside int64', async () => {
    const schema = struct([field('l', 'long'), field('ts', 'timestamp')]);
    await assert.rejects(encodeColumns(schema, { l: [2n ** 63n], ts: [0n] }, 1), isValueError('l'));
    await assert.rejects(encodeColumns(schema, { l: [2 ** 63], ts: [0n] }, 1), isValueError('l'));
    await assert.rejects(encodeColumns(schema, { l: [0n], ts: [2n ** 64n + 5n] }, 1), isValueError('ts'));
  });

  it('int64 bounds are written as given', () => {
    const d = buildData(P('long'), [-(2n ** 63n), 2n ** 63n - 1n, -(2 ** 63)], 'c');
    assert.deepEqual([...(d.values as BigInt64Array)], [-(2n ** 63n), 2n ** 63n - 1n, -(2n ** 63n)]);
  });

  it('a struct column given a value that is not an object', async () => {
    const schema = struct([field('st', struct([field('a', 'integer')]))]);
    for (const v of [5, 'abc', [1, 2]] as DeltaValue[]) {
      await assert.rejects(encodeColumns(schema, { st: [v] }, 1), isValueError('st'), JSON.stringify(v));
    }
  });

  it('a required column missing from the input', () => {
    const schema = struct([field('id', 'long', false), field('s', 'string')]);
    assert.throws(() => buildTable(schema, { s: ['a'] }, 1), isValueError('id'));
  });

  it('a null where a nested type forbids it', async () => {
    const cases: Array<[DataType, DeltaValue]> = [
      [struct([field('a', 'integer', false)]), { a: null }],
      [array(P('integer'), false), [1, null]],
      [map(P('string'), P('integer'), false), [['k', null]]],
      [map(P('string'), P('integer')), [[null, 1]]],
    ];
    for (const [t, v] of cases) {
      const schema = struct([field('c', t)]);
      await assert.rejects(encodeColumns(schema, { c: [v] }, 1), isValueError('c'), JSON.stringify(t));
    }
  });

  it('a required field of a null struct is not checked', async () => {
    const schema = struct([field('c', struct([field('a', 'integer', false)]))]);
    await encodeColumns(schema, { c: [null, { a: 1 }] }, 2);
  });

  it('bytes that are not UTF-8 given for a string column', async () => {
    const schema = struct([field('s', 'string')]);
    await assert.rejects(encodeColumns(schema, { s: [new Uint8Array([0xff, 0xfe])] }, 1), isValueError('s'));
    await encodeColumns(schema, { s: [new TextEncoder().encode('é')] }, 1);
  });
});

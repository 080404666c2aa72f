import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodeAddPath, escapePartitionValue, partitionDir } from '../../src/delta/partitions.ts';
import { field, struct } from '../../src/delta/schema.ts';
import { computeStats, statsToJson, truncateString } from '../../src/delta/stats.ts';
import {
  formatDecimal,
  formatTimestampMicros,
  parseDecimal,
  parsePartitionValue,
  parseTimestampMicros,
  serializePartitionValue,
  unscaledFromRaw,
} from '../../src/delta/values.ts';

describe('decimals', () => {
  it('format and parse exactly', () => {
    assert.equal(formatDecimal(10000n, 3), '10.000');
    assert.equal(formatDecimal(-5n, 3), '-0.005');
    assert.equal(formatDecimal(200000000000000000000n, 18), '200.000000000000000000');
    assert.equal(parseDecimal('1.5', 3), 1500n);
    assert.equal(parseDecimal('-0.25', 2), -25n);
    assert.equal(parseDecimal('1e3', 0), 1000n);
    assert.equal(parseDecimal('1.2300', 2), 123n);
    assert.throws(() => parseDecimal('1.234', 2), /more than 2 fraction digits/);
    assert.throws(() => parseDecimal('abc', 2), /invalid decimal/);
  });
  it('reads two’s complement bytes', () => {
    assert.equal(unscaledFromRaw(new Uint8Array([0xff, 0xfe])), -2n);
    assert.equal(unscaledFromRaw(new Uint8Array([0x01, 0x00])), 256n);
  });
});

describe('timestamps', () => {
  it('parse the forms found in partition values and stats', () => {
    assert.equal(parseTimestampMicros('1970-01-01 00:00:01'), 1_000_000n);
    assert.equal(parseTimestampMicros('1970-01-01 00:00:01.000002'), 1_000_002n);
    assert.equal(parseTimestampMicros('1970-01-01T00:00:01.5Z'), 1_500_000n);
    assert.equal(parseTimestampMicros('1970-01-01T02:00:00+02:00'), 0n);
    assert.equal(formatTimestampMicros(1_700_000_000_123_456n), '2023-11-14T22:13:20.123456');
    assert.equal(formatTimestampMicros(-1n), '1969-12-31T23:59:59.999999');
  });
});

describe('partition values and paths', () => {
  const ts = { kind: 'primitive', name: 'timestamp' } as const;
  it('round-trip typed partition values', () => {
    assert.equal(serializePartitionValue(1_500_000n, ts), '1970-01-01 00:00:01.500000');
    assert.equal(serializePartitionValue(1_000_000n, ts), '1970-01-01 00:00:01');
    assert.equal(parsePartitionValue('1970-01-01 00:00:01.500000', ts), 1_500_000n);
    assert.equal(serializePartitionValue(19000, { kind: 'primitive', name: 'date' }), '2022-01-08');
    assert.equal(parsePartitionValue('2022-01-08', { kind: 'primitive', name: 'date' }), 19000);
    assert.equal(parsePartitionValue(null, ts), null);
    // "An empty string for any type translates to a null partition value."
    for (const name of ['string', 'long', 'integer', 'boolean', 'date', 'timestamp', 'double', 'binary'] as const) {
      assert.equal(parsePartitionValue('', { kind: 'primitive', name }), null, name);
    }
    assert.equal(parsePartitionValue('', { kind: 'decimal', precision: 10, scale: 2 }), null);
    assert.equal(serializePartitionValue('', { kind: 'primitive', name: 'string' }), null);
    assert.equal(serializePartitionValue(new Uint8Array(0), { kind: 'primitive', name: 'binary' }), null);
    assert.equal(
      parsePartitionValue('200.000000000000000000', { kind: 'decimal', precision: 38, scale: 18 }),
      '200.000000000000000000',
    );
  });
  it('escape directory names like Hive/Spark and URI-encode add paths', () => {
    assert.equal(escapePartitionValue('a/b c%d=e:f'), 'a%2Fb%20c%25d%3De%3Af');
    assert.equal(escapePartitionValue('2024-01-01 😈'), '2024-01-01%20%F0%9F%98%88');
    assert.equal(partitionDir(['x', 'y'], ['A/A', null]), 'x=A%2FA/y=__HIVE_DEFAULT_PARTITION__');
    assert.equal(encodeAddPath('x=A%2FA/part-1.parquet'), 'x=A%252FA/part-1.parquet');
    assert.equal(decodeURIComponent(encodeAddPath('x=B B/😈/f')), 'x=B B/😈/f');
  });
});

describe('stats', () => {
  it('truncate string bounds so they stay bounds', () => {
    const long = 'a'.repeat(40);
    assert.equal(truncateString(long, 'min'), 'a'.repeat(32));
    const max = truncateString(long, 'max')!;
    assert.ok(max.startsWith('a'.repeat(32)) && max > long);
    assert.equal(truncateString('short', 'max'), 'short');
    // a string whose 33rd char is the highest code point cannot be bounded by a prefix + U+10FFFF: omitted
    assert.equal(truncateString('a'.repeat(32) + '\u{10FFFF}\u{10FFFF}', 'max'), undefined);
  });

  it('compute numRecords, nullCount, min and max per leaf column', () => {
    const schema = struct([
      field('id', 'long'),
      field('s', 'string'),
      field('f', 'double'),
      field('b', 'boolean'),
      field('ts', 'timestamp'),
      field('st', struct([field('x', 'integer')])),
      field('dec', { kind: 'decimal', precision: 10, scale: 2 }),
    ]);
    const stats = computeStats(
      schema,
      {
        id: [3n, 9007199254740993n, null],
        s: ['b', '😀', '\uFFFD'],
        f: [1.5, NaN, 2],
        b: [true, false, null],
        ts: [1_000_500n, 2_000_001n, null],
        st: [{ x: 5 }, null, { x: -1 }],
        dec: ['1.50', '-2.25', null],
      },
      3,
    );
    assert.equal(stats.numRecords, 3);
    assert.deepEqual(stats.nullCount, { id: 1, s: 0, f: 0, b: 1, ts: 1, st: { x: 1 }, dec: 1 });
    assert.equal(stats.minValues.s, 'b');
    assert.equal(stats.maxValues.s, '😀'); // code point order, not UTF-16
    assert.equal(stats.minValues.f, undefined); // NaN poisons float bounds
    assert.equal(stats.minValues.b, undefined);
    assert.equal(stats.minValues.ts, '1970-01-01T00:00:01.000Z'); // floored to ms
    assert.equal(stats.maxValues.ts, '1970-01-01T00:00:02.001Z'); // ceiled to ms
    assert.deepEqual(stats.minValues.st, { x: -1 });
    const json = statsToJson(stats);
    assert.match(json, /"maxValues":\{"id":9007199254740993,/); // exact long
    assert.match(json, /"dec":-2\.25/);
    assert.doesNotThrow(() => JSON.parse(json));
  });

  it('limits stats to the first N indexed leaf columns', () => {
    const schema = struct([field('a', 'long'), field('b', 'long'), field('c', 'long')]);
    const stats = computeStats(schema, { a: [1n], b: [2n], c: [3n] }, 1, { numIndexedCols: 2 });
    assert.deepEqual(Object.keys(stats.nullCount), ['a', 'b']);
  });
});

/** Time partitioning rules: the derived column's values and which tables have it. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { field, struct } from '../../src/delta/schema.ts';
import {
  fillTimePartitions,
  partitionedSchema,
  tablePartitionBy,
  timePartitionColumns,
  timePartitionValue,
} from '../../src/reddit/time-partitions.ts';

const micros = (iso: string) => BigInt(Date.parse(iso)) * 1000n;

describe('time partitions', () => {
  it('derives zero-padded UTC year, month and day strings from created_at, null without one', () => {
    const t = micros('2026-02-03T23:59:59.999Z');
    assert.equal(timePartitionValue('created_year', t), '2026');
    assert.equal(timePartitionValue('created_month', t), '2026-02');
    assert.equal(timePartitionValue('created_day', t), '2026-02-03');
    assert.equal(
      timePartitionValue('created_day', t + 1000n),
      '2026-02-04',
      'the next millisecond is the next UTC day',
    );
    assert.equal(timePartitionValue('created_year', micros('0987-06-05T00:00:00Z')), '0987');
    assert.equal(timePartitionValue('created_month', micros('1969-12-31T12:00:00Z')), '1969-12');
    assert.equal(timePartitionValue('created_month', null), null);
    assert.equal(timePartitionValue('subreddit', t), null, 'not a derived column');
  });

  it('fills the derived partition column of a batch in place and leaves other columns alone', () => {
    const batch = {
      numRows: 3,
      columns: {
        created_at: [micros('2025-12-31T23:00:00Z'), null, micros('2026-01-01T00:00:00Z')],
        subreddit: ['a', 'b', 'c'],
      },
    };
    fillTimePartitions(['created_month', 'subreddit'], batch);
    assert.deepEqual(batch.columns, {
      created_at: batch.columns.created_at,
      subreddit: ['a', 'b', 'c'],
      created_month: ['2025-12', null, '2026-01'],
    });
  });

  it('a new table gets the derived column as its partition column; a table is recognised by it', () => {
    const base = struct([field('id', 'string'), field('created_at', 'timestamp')]);
    assert.equal(partitionedSchema(base, 'none'), base);
    assert.deepEqual(
      partitionedSchema(base, 'day').fields.map((f) => [f.name, f.type]),
      [
        ['id', { kind: 'primitive', name: 'string' }],
        ['created_at', { kind: 'primitive', name: 'timestamp' }],
        ['created_day', { kind: 'primitive', name: 'string' }],
      ],
    );
    assert.deepEqual(timePartitionColumns('none'), []);
    assert.deepEqual(timePartitionColumns('year'), ['created_year']);
    assert.equal(tablePartitionBy([]), 'none');
    assert.equal(tablePartitionBy(['created_month']), 'month');
    assert.equal(tablePartitionBy(['subreddit']), 'other');
    assert.equal(tablePartitionBy(['created_year', 'created_month']), 'other');
  });
});

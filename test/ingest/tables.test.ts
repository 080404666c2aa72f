/** The table catalog: which existing post tables it accepts. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DeltaTable } from '../../src/delta/table.ts';
import type { StructType } from '../../src/delta/schema.ts';
import { incompatibleColumns, TableCatalog } from '../../src/ingest/tables.ts';
import { silentLogger } from '../../src/logger.ts';
import { postTableSchema } from '../../src/reddit/post-schema.ts';
import { memoryRoot } from '../helpers/memory-root.ts';

const posts = postTableSchema('keep');
/** The post schema with some columns retyped (a table written by another tool). */
function retyped(types: Record<string, string>): StructType {
  return {
    ...posts,
    fields: posts.fields.map((f) =>
      types[f.name] ? { ...f, type: { kind: 'primitive' as const, name: types[f.name] as 'string' } } : f,
    ),
  };
}

describe('post tables created elsewhere', () => {
  it('narrower number columns hold posts (out-of-range values become dead letters), integer columns booleans; other types do not', () => {
    // The old Python pipeline's types: int32 counts, float32 epochs, int32 likes.
    const old = retyped({ score: 'integer', num_comments: 'integer', created_utc: 'float', likes: 'integer' });
    assert.deepEqual(incompatibleColumns(old, posts), []);
    const wrong = retyped({ title: 'long', likes: 'string', score: 'boolean' });
    assert.deepEqual(incompatibleColumns(wrong, posts), [
      'title is long in the table, posts give string',
      'score is boolean in the table, posts give long',
      'likes is string in the table, posts give boolean',
    ]);
    assert.deepEqual(incompatibleColumns(posts, posts), []);
  });

  it('an existing table that cannot hold posts is refused with the columns named; a compatible one opens', async () => {
    const root = memoryRoot();
    await DeltaTable.openOrCreate(root.store('wrong'), { schema: retyped({ score: 'string' }), name: 'wrong' });
    await DeltaTable.openOrCreate(root.store('narrow'), { schema: retyped({ score: 'integer' }), name: 'narrow' });
    const catalog = new TableCatalog(root, { log: silentLogger });
    await assert.rejects(catalog.postTable('wrong'), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'SCHEMA_MISMATCH');
      assert.match(err.message, /cannot hold Reddit posts: score is string in the table, posts give long/);
      return true;
    });
    assert.equal(
      (await catalog.postTable('narrow')).schema.fields.find((f) => f.name === 'score')?.type.kind,
      'primitive',
    );
  });
});

describe('time-partitioned post tables', () => {
  it('a new table is created with the derived partition column; an existing table keeps its layout', async () => {
    const root = memoryRoot();
    const messages: string[] = [];
    const log = {
      ...silentLogger,
      info: (msg: string, f?: Record<string, unknown>) => messages.push(`${msg} ${JSON.stringify(f)}`),
    };
    await new TableCatalog(root, { log }).postTable('plain');
    const catalog = new TableCatalog(root, { log, partitionBy: 'month' });
    const created = await catalog.postTable('fresh');
    assert.deepEqual(created.partitionColumns, ['created_month']);
    assert.equal(created.schema.fields.at(-1)?.name, 'created_month');
    assert.deepEqual(messages, [], 'a table with the configured layout says nothing');

    const plain = await catalog.postTable('plain');
    assert.deepEqual(plain.partitionColumns, []);
    assert.equal(catalog.appendSchema(plain), undefined, 'an unpartitioned table does not gain the derived column');
    assert.deepEqual(messages, [
      'table keeps its layout {"table":"plain","partitionColumns":"(none)","partitionBy":"month"}',
    ]);
  });
});

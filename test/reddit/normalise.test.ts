/**
 * The post model on real Reddit posts (shared/fixtures/reddit): every post
 * normalises or is dead-lettered with a reason, and a round trip through a
 * Delta table gives back the input wherever the schema is lossless.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { describe, it } from 'node:test';
import { readAllRows } from '../../src/delta/scan.ts';
import { DeltaTable } from '../../src/delta/table.ts';
import { PostBatchBuilder } from '../../src/reddit/normalise.ts';
import { EXTRA_FIELDS_COLUMN, KNOWN_FIELDS, POST_FIELDS, postTableSchema } from '../../src/reddit/post-schema.ts';
import { normaliseSubreddit, topicFor } from '../../src/reddit/subreddit.ts';
import { PostGenerator } from '../../src/reddit/generate.ts';
import { MemoryObjectStore } from '../../src/storage/memory.ts';
import { SHARED } from '../helpers/fixtures.ts';

const REDDIT = path.join(SHARED, 'fixtures/reddit');
const posts = fs.readFileSync(path.join(REDDIT, 'posts.ndjson'), 'utf8').split('\n').filter(Boolean);
const allPosts = zlib
  .gunzipSync(fs.readFileSync(path.join(REDDIT, 'posts-all.ndjson.gz')))
  .toString('utf8')
  .split('\n')
  .filter(Boolean);

describe('post schema', () => {
  it('keeps the old pipeline’s 99 column names in order, with fixed types', () => {
    const src = fs.readFileSync(path.join(SHARED, 'anchors/seed_polars_consumer.py'), 'utf8');
    const block = src.slice(src.indexOf('SCHEMA = {'), src.indexOf('}\n\n\ndef parse'));
    const oldNames = [...block.matchAll(/"(\w+)": pl\.\w+/g)].map((m) => m[1]);
    assert.equal(oldNames.length, 99);
    assert.deepEqual(
      POST_FIELDS.map(([n]) => n),
      oldNames,
    );
    const types = Object.fromEntries(POST_FIELDS);
    for (const f of ['created_utc', 'created', 'approved_at_utc', 'banned_at_utc', 'upvote_ratio']) {
      assert.equal(types[f], 'double');
    }
    assert.equal(types.likes, 'boolean');
    const schema = postTableSchema('keep');
    assert.deepEqual(
      schema.fields.slice(-3).map((f) => f.name),
      ['created_at', 'edited_at', EXTRA_FIELDS_COLUMN],
    );
    assert.equal(postTableSchema('drop').fields.length, 101);
  });

  it('validates subreddit names and derives topics', () => {
    assert.equal(normaliseSubreddit('AskReddit'), 'askreddit');
    assert.equal(normaliseSubreddit('r/de'), 'de');
    assert.equal(topicFor('DataEngineering'), 'reddit_dataengineering');
    assert.throws(() => normaliseSubreddit('<TEST_SUBREDDIT>'), /invalid subreddit name/);
    assert.throws(() => normaliseSubreddit('a'), /invalid/);
    assert.throws(() => normaliseSubreddit('_x_'), /invalid/);
  });
});

describe('normalising real posts', () => {
  it('normalises all 6,790 real posts (none lost, reasons for any rejected)', () => {
    const b = new PostBatchBuilder();
    const rejected: string[] = [];
    for (const line of allPosts) {
      const r = b.add(line);
      if (!r.ok) rejected.push(r.reason);
    }
    const batch = b.build();
    assert.deepEqual(rejected, []);
    assert.equal(batch.numRows + batch.duplicates, allPosts.length);
  });

  it('round-trips the 1,725 fixture posts through a Delta table losslessly', async () => {
    const b = new PostBatchBuilder({ unknownFields: 'keep' });
    for (const line of posts) assert.equal(b.add(line).ok, true);
    const batch = b.build();
    const t = await DeltaTable.create(new MemoryObjectStore(), { schema: postTableSchema('keep') });
    assert.equal((await t.append(batch)).kind, 'committed');
    const rows = new Map((await readAllRows(t.snapshot)).map((r) => [r.id as string, r]));
    assert.equal(rows.size, posts.length);
    let editedNumbers = 0;
    for (const line of posts) {
      const post = JSON.parse(line);
      const row = rows.get(post.id)!;
      for (const [name, type] of POST_FIELDS) {
        const v = post[name];
        const got = row[name];
        if (v === undefined || v === null) {
          assert.equal(got, null, `${post.id}.${name}`);
          continue;
        }
        if (name === 'edited' && typeof v === 'number') {
          editedNumbers++;
          assert.equal(got, true);
          assert.equal(row.edited_at, BigInt(Math.round(v * 1e6)));
          continue;
        }
        if (type === 'string') {
          assert.equal(got, typeof v === 'object' ? JSON.stringify(v) : String(v), `${post.id}.${name}`);
        } else if (type === 'long') assert.equal(got, BigInt(v), `${post.id}.${name}`);
        else assert.equal(got, v, `${post.id}.${name}`);
      }
      assert.equal(row.created_at, BigInt(Math.round(post.created_utc * 1e6)));
      // float64 keeps created_utc exactly (float32 would round it to 128 s)
      assert.equal(row.created_utc, post.created_utc);
      const unknown = Object.fromEntries(Object.entries(post).filter(([k]) => !KNOWN_FIELDS.has(k)));
      if (Object.keys(unknown).length === 0) assert.equal(row[EXTRA_FIELDS_COLUMN], null);
      else assert.deepEqual(JSON.parse(row[EXTRA_FIELDS_COLUMN] as string), unknown);
    }
    assert.equal(editedNumbers, 323);
  });

  it('"drop" discards unknown fields like the old pipeline', () => {
    const b = new PostBatchBuilder({ unknownFields: 'drop' });
    b.add(posts[0]);
    const batch = b.build();
    assert.equal(batch.columns[EXTRA_FIELDS_COLUMN], undefined);
  });
});

describe('validation and dead-letter reasons', () => {
  const ok = JSON.stringify({ id: 'abc', subreddit: 'python', title: 't', score: 5, created_utc: 1700000000.5 });
  const cases: Array<[string, string | Uint8Array, RegExp]> = [
    ['invalid JSON', '{"id": "x",', /invalid JSON/],
    ['not an object', '[1,2,3]', /not a JSON object \(got an array\)/],
    ['a string', '"hello"', /not a JSON object/],
    ['no id', '{"title": "x"}', /has no "id"/],
    ['empty id', '{"id": ""}', /non-empty string/],
    ['numeric id', '{"id": 42}', /must be a non-empty string, got number 42/],
    ['fractional score', '{"id": "a", "score": 1.5}', /field "score": expected long, got number 1.5/],
    ['boolean score', '{"id": "a", "score": true}', /field "score": expected long/],
    ['object in boolean', '{"id": "a", "over_18": {"x": 1}}', /field "over_18": expected boolean, got an object/],
    ['unsafe integer', '{"id": "a", "ups": 99999999999999999999}', /field "ups"/],
    ['invalid UTF-8', new Uint8Array([0x7b, 0x22, 0xff, 0x22, 0x7d]), /not valid UTF-8/],
    ['too large', JSON.stringify({ id: 'a', selftext: 'x'.repeat(2 * 1024 * 1024) }), /too large/],
    // Timestamps outside years 1-9999 used to throw while encoding stats, failing the whole flush.
    [
      'created_utc in year 318857',
      '{"id": "a", "created_utc": 1e13}',
      /field "created_utc": 10000000000000 is not an epoch time in years 1 to 9999/,
    ],
    ['created_utc before year 1', '{"id": "a", "created_utc": -62135596801}', /field "created_utc"/],
    [
      'edited after year 9999',
      '{"id": "a", "edited": 253402300800}',
      /field "edited": 253402300800 is not an epoch time/,
    ],
    ['created_utc in the last second of 9999', '{"id": "a", "created_utc": 253402300799.9995}', /field "created_utc"/],
    // Nesting: 65 levels with the post object; 20,000 used to overflow the stack in JSON.stringify.
    [
      'JSON nested 65 deep',
      `{"id": "a", "media": ${'['.repeat(64)}${']'.repeat(64)}}`,
      /JSON nested deeper than 64 levels \(field "media"\)/,
    ],
    [
      'JSON nested 20,000 deep in an unknown field',
      `{"id": "a", "zz": ${'{"a":'.repeat(20000)}1${'}'.repeat(20000)}}`,
      /nested deeper than 64/,
    ],
  ];
  for (const [name, msg, reason] of cases) {
    it(`rejects ${name} with a reason and keeps the rest of the batch`, () => {
      const b = new PostBatchBuilder();
      assert.equal(b.add(ok).ok, true);
      const r = b.add(msg);
      assert.equal(r.ok, false);
      if (!r.ok) assert.match(r.reason, reason);
      assert.equal(b.build().numRows, 1);
    });
  }

  it('is not fooled by __proto__ keys', () => {
    const b = new PostBatchBuilder();
    const r = b.add(
      '{"id": "p1", "__proto__": {"polluted": true}, "constructor": {"prototype": {"x": 1}}, "title": "t"}',
    );
    assert.equal(r.ok, true);
    const batch = b.build();
    assert.equal(({} as any).polluted, undefined);
    assert.deepEqual(
      JSON.parse(batch.columns[EXTRA_FIELDS_COLUMN][0] as string),
      JSON.parse('{"__proto__": {"polluted": true}, "constructor": {"prototype": {"x": 1}}}'),
    );
  });

  it('coerces losslessly: ints as doubles, numbers and booleans in text columns, edited as number', () => {
    const b = new PostBatchBuilder();
    b.add(
      JSON.stringify({
        id: 'a',
        upvote_ratio: 1,
        banned_by: true,
        link_flair_text: 12,
        edited: 1700000123.25,
        media: { x: [1] },
      }),
    );
    const { columns } = b.build();
    assert.equal(columns.upvote_ratio[0], 1);
    assert.equal(columns.banned_by[0], 'true');
    assert.equal(columns.link_flair_text[0], '12');
    assert.equal(columns.edited[0], true);
    assert.equal(columns.edited_at[0], 1_700_000_123_250_000n);
    assert.equal(columns.media[0], '{"x":[1]}');
  });

  it('accepts epoch times at both ends of years 1-9999', () => {
    const b = new PostBatchBuilder();
    assert.equal(b.add('{"id": "a", "created_utc": -62135596800, "edited": 253402300799}').ok, true);
    const { columns } = b.build();
    assert.equal(columns.created_at[0], -62135596800_000_000n);
    assert.equal(columns.edited_at[0], 253402300799_000_000n);
  });

  it('accepts JSON nested 64 deep', () => {
    const b = new PostBatchBuilder();
    assert.equal(b.add(`{"id": "a", "media": ${'['.repeat(63)}${']'.repeat(63)}}`).ok, true);
    assert.equal(b.build().columns.media[0], '['.repeat(63) + ']'.repeat(63));
  });

  it('keeps the last of duplicate ids within a batch', () => {
    const b = new PostBatchBuilder();
    b.add(JSON.stringify({ id: 'a', score: 1 }), 10);
    b.add(JSON.stringify({ id: 'b', score: 2 }), 11);
    const r = b.add(JSON.stringify({ id: 'a', score: 3 }), 12);
    assert.equal(r.ok && r.duplicate, true);
    const batch = b.build();
    assert.equal(batch.numRows, 2);
    assert.equal(batch.duplicates, 1);
    assert.equal(batch.columns.score[0], 3);
    assert.deepEqual(batch.refs, [12, 11]);
  });
});

describe('generator', () => {
  it('is deterministic and produces posts the normaliser accepts', () => {
    const a = new PostGenerator({ seed: 7 });
    const b = new PostGenerator({ seed: 7 });
    const builder = new PostBatchBuilder();
    const ids = new Set<string>();
    let bytes = 0;
    for (let i = 0; i < 2000; i++) {
      const x = a.nextJson();
      assert.equal(x, b.nextJson());
      bytes += x.length;
      const r = builder.add(x);
      assert.equal(r.ok, true);
      if (r.ok) ids.add(r.id);
    }
    assert.equal(ids.size, 2000);
    const avg = bytes / 2000;
    assert.ok(avg > 2000 && avg < 6000, `average post size ${avg}`);
    const c = new PostGenerator({ seed: 8 });
    assert.notEqual(c.nextJson(), new PostGenerator({ seed: 7 }).nextJson());
  });
});

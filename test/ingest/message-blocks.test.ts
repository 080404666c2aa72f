/** Buffered message values in recycled blocks, joined into one packed buffer per flush. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BlockAppender, BlockPool, joinAppenders } from '../../src/ingest/message-blocks.ts';
import { PackBuffers, packedEntry, packMessages } from '../../src/ingest/packed-messages.ts';

const enc = new TextEncoder();
const dec = new TextDecoder();
const entries = (p: { data: Uint8Array; ends: Uint32Array }) =>
  Array.from(p.ends, (_, i) => dec.decode(packedEntry(p, i)));

describe('BlockAppender and joinAppenders', () => {
  it('join the entries of several appenders in order, as packMessages would, across block boundaries', () => {
    const pool = new BlockPool(16, 16, 1024);
    const a = new BlockAppender(pool);
    const b = new BlockAppender(pool);
    const values = ['hello', 'world!!!', 'x'.repeat(15), '', 'spans?', 'y'.repeat(40), 'z'];
    // Entries never straddle blocks: 'x'*15 starts a new block, 'y'*40 gets a block of its own.
    for (const v of values.slice(0, 4)) a.append(enc.encode(v));
    for (const v of values.slice(4)) b.append(enc.encode(v));
    assert.deepEqual([a.count, b.count], [4, 3]);
    const joined = joinAppenders([a, b]);
    const expected = packMessages(values.map((v) => enc.encode(v)));
    assert.deepEqual(entries(joined), values);
    assert.deepEqual(joined.ends, expected.ends);
    assert.deepEqual(joined.data, expected.data);
    assert.equal(joined.nulls, null);
    // Released: empty, and their pool-sized blocks back in the pool (the 40-byte one is not pooled).
    assert.deepEqual([a.count, a.bytes, b.count, b.bytes], [0, 0, 0, 0]);
    assert.ok(pool.idleBytes >= 3 * 16);
  });

  it('flag null entries (keys) and keep them apart from empty ones', () => {
    const pool = new BlockPool(64, 64);
    const a = new BlockAppender(pool);
    a.append(enc.encode('k1'));
    a.append(null);
    const b = new BlockAppender(pool);
    b.append(enc.encode(''));
    b.append(null);
    const j = joinAppenders([a, b]);
    assert.deepEqual(Array.from(j.nulls!), [0, 1, 0, 1]);
    assert.deepEqual(entries(j), ['k1', '', '', '']);
  });

  it('reuse released blocks: steady appending allocates none once the pool holds enough', () => {
    const pool = new BlockPool(32, 32, 1024);
    const seen = new Set<ArrayBuffer>();
    const acquire = pool.acquire.bind(pool);
    pool.acquire = (size, need) => {
      const b = acquire(size, need);
      seen.add(b.buffer as ArrayBuffer);
      return b;
    };
    const a = new BlockAppender(pool);
    for (let round = 0; round < 5; round++) {
      for (let i = 0; i < 8; i++) a.append(enc.encode(`message ${round}-${i}`));
      // Copies, not views: the values written into the packed buffer stay after the blocks are reused.
      const j = joinAppenders([a], new PackBuffers());
      assert.equal(entries(j)[7], `message ${round}-7`);
    }
    // 8 messages of 13 bytes take 4 blocks of 32 bytes per round: the same 4 every round.
    assert.equal(seen.size, 4);
  });

  it('hold at most maxIdleBytes idle, and drop them all after idleMs unused', () => {
    const pool = new BlockPool(10, 10, 30, 1000);
    pool.release(Array.from({ length: 5 }, () => new Uint8Array(10)));
    assert.equal(pool.idleBytes, 30);
    pool.trim(Date.now() + 500);
    assert.equal(pool.idleBytes, 30);
    pool.trim(Date.now() + 1500);
    assert.equal(pool.idleBytes, 0);
  });

  it('start each appender with the smallest block and grow a class (4x) per block, so an idle partition costs little', () => {
    const pool = new BlockPool(16, 256, 4096);
    const one = new BlockAppender(pool);
    one.append(enc.encode('a small message'));
    assert.equal(one.heldBytes, 16);
    const busy = new BlockAppender(pool);
    for (let i = 0; i < 60; i++) busy.append(enc.encode('0123456789'));
    // 16 (1 entry), 64 (6), 256 (25), 256 (25), 256 (3): never more than the largest class.
    assert.equal(busy.heldBytes, 16 + 64 + 256 * 3);
    // A value larger than the largest class gets a block of its own size; the next one starts a block of the largest class.
    busy.append(new Uint8Array(1000));
    busy.append(enc.encode('after'));
    assert.equal(busy.heldBytes, 16 + 64 + 256 * 3 + 1000 + 256);
    const j = joinAppenders([one, busy]);
    assert.equal(j.ends.length, 63);
    assert.equal(dec.decode(packedEntry(j, 62)), 'after');
    // Pooled by class; the 1000-byte block is not kept.
    assert.equal(pool.idleBytes, 16 + 16 + 64 + 256 * 4);
  });
});

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { isNotFound } from '../../src/errors.ts';
import { LocalObjectStore } from '../../src/storage/local.ts';
import { MemoryObjectStore } from '../../src/storage/memory.ts';
import { compareCodePoints, type ObjectStore } from '../../src/storage/object-store.ts';

const bytes = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array) => new TextDecoder().decode(b);

const stores: Array<[string, () => ObjectStore]> = [
  ['memory', () => new MemoryObjectStore()],
  ['local', () => new LocalObjectStore(fs.mkdtempSync(path.join(os.tmpdir(), 'rs-store-')))],
];

for (const [name, make] of stores) {
  describe(`ObjectStore contract: ${name}`, () => {
    it('put, get, getRange, head, delete', async () => {
      const s = make();
      await s.put('a/b/c.txt', bytes('hello world'));
      assert.equal(text(await s.get('a/b/c.txt')), 'hello world');
      assert.equal(text(await s.getRange('a/b/c.txt', 6, 11)), 'world');
      assert.equal(text(await s.getRange('a/b/c.txt', 6, 100)), 'world');
      const h = await s.head('a/b/c.txt');
      assert.equal(h?.size, 11);
      assert.equal(await s.head('a/b/missing'), null);
      await s.put('a/b/c.txt', bytes('replaced'));
      assert.equal(text(await s.get('a/b/c.txt')), 'replaced');
      await s.delete('a/b/c.txt');
      await s.delete('a/b/c.txt'); // missing is fine
      await assert.rejects(s.get('a/b/c.txt'), (e: unknown) => isNotFound(e));
      await assert.rejects(s.getRange('nope', 0, 1), (e: unknown) => isNotFound(e));
    });

    it('lists recursively under a prefix, sorted, with startAfter', async () => {
      const s = make();
      for (const p of [
        '_delta_log/00000000000000000001.json',
        '_delta_log/00000000000000000000.json',
        'x=1/f.parquet',
        'x=2/f.parquet',
        '_delta_log/_last_checkpoint',
      ]) {
        await s.put(p, bytes(p));
      }
      assert.deepEqual(
        (await s.list('_delta_log/')).map((m) => m.path),
        ['_delta_log/00000000000000000000.json', '_delta_log/00000000000000000001.json', '_delta_log/_last_checkpoint'],
      );
      assert.deepEqual(
        (await s.list('x=')).map((m) => m.path),
        ['x=1/f.parquet', 'x=2/f.parquet'],
      );
      assert.deepEqual(
        (await s.list('_delta_log/', { startAfter: '_delta_log/00000000000000000000.json' })).map((m) => m.path),
        ['_delta_log/00000000000000000001.json', '_delta_log/_last_checkpoint'],
      );
      assert.deepEqual(await s.list('nothing/'), []);
    });

    it('putIfAbsent: exactly one of many racing writers wins, the winner stays intact', async () => {
      const s = make();
      const results = await Promise.all(
        Array.from({ length: 25 }, (_, i) =>
          s.putIfAbsent('_delta_log/00000000000000000005.json', bytes(`writer ${i}`)),
        ),
      );
      assert.equal(results.filter(Boolean).length, 1);
      const winner = results.indexOf(true);
      assert.equal(text(await s.get('_delta_log/00000000000000000005.json')), `writer ${winner}`);
      assert.equal(await s.putIfAbsent('_delta_log/00000000000000000005.json', bytes('late')), false);
      assert.equal(text(await s.get('_delta_log/00000000000000000005.json')), `writer ${winner}`);
    });

    it('rejects paths that escape the root', async () => {
      const s = make();
      await assert.rejects(s.put('../escape', bytes('x')));
      await assert.rejects(s.put('/abs', bytes('x')));
    });
  });
}

describe('LocalObjectStore atomicity', () => {
  it('leaves no temporary files visible to listing', async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'rs-store-'));
    const s = new LocalObjectStore(root);
    await Promise.all(Array.from({ length: 10 }, (_, i) => s.putIfAbsent('d/k', bytes(String(i)))));
    assert.deepEqual(fs.readdirSync(path.join(root, 'd')), ['k']);
    assert.deepEqual(
      (await s.list('')).map((m) => m.path),
      ['d/k'],
    );
  });
});

describe('compareCodePoints', () => {
  it('orders by code point (UTF-8 byte order), not UTF-16 units', () => {
    const a = '\uFFFD'; // BMP char above the surrogate range
    const b = '😀'; // U+1F600, encoded with surrogates in UTF-16
    assert.ok(compareCodePoints(a, b) < 0);
    assert.equal(Math.sign(compareCodePoints('abc', 'abd')), -1);
    assert.equal(compareCodePoints('abc', 'abc'), 0);
    assert.ok(compareCodePoints('ab', 'abc') < 0);
    const words = ['z', '😀', '\uFFFD', 'a', 'é'];
    const byBytes = [...words].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
    assert.deepEqual([...words].sort(compareCodePoints), byBytes);
  });
});

/**
 * `reddit-stream load` end to end: routing by subreddit with dead letters,
 * idempotence (same load twice), resume after kill -9, and `.gz`/`.zst`
 * inputs including a zstd long window (as in Reddit dump archives).
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { describe, it } from 'node:test';
import { readAllRows } from '../../src/delta/scan.ts';
import { loadSnapshot } from '../../src/delta/snapshot.ts';
import { LocalObjectStore } from '../../src/storage/local.ts';
import { REPO_ROOT, SHARED } from '../helpers/fixtures.ts';

const CLI = path.join(REPO_ROOT, 'src/cli/main.ts');
const POSTS = path.join(SHARED, 'fixtures/reddit/posts.ndjson');

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'rs-load-'));

async function tableIds(dir: string): Promise<string[]> {
  return (await readAllRows(await loadSnapshot(new LocalObjectStore(dir)), { columns: ['id'] })).map(
    (r) => r.id as string,
  );
}

async function rootIds(root: string): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  for (const name of fs.readdirSync(root)) {
    if (name.startsWith('_') || !fs.existsSync(path.join(root, name, '_delta_log'))) continue;
    out.set(name, await tableIds(path.join(root, name)));
  }
  return out;
}

describe('load', () => {
  it('routes real posts to one table per subreddit; invalid names and broken lines become dead letters', async () => {
    const dir = tmp();
    const input = path.join(dir, 'in.ndjson');
    const lines = fs.readFileSync(POSTS, 'utf8').split('\n').filter(Boolean);
    fs.writeFileSync(input, [...lines.slice(0, 400), '{broken', '', ...lines.slice(400, 800)].join('\n') + '\n');
    const root = path.join(dir, 'lake');
    const r = cli('load', input, '--root', root, '--batch-size', '150');
    assert.equal(r.code, 0, r.stderr);
    const expected = new Map<string, Set<string>>();
    let invalid = 0;
    for (const l of lines.slice(0, 800)) {
      const p = JSON.parse(l);
      if (typeof p.subreddit !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9_]{1,20}$/.test(p.subreddit)) {
        invalid++;
        continue;
      }
      const k = p.subreddit.toLowerCase();
      if (!expected.has(k)) expected.set(k, new Set());
      expected.get(k)!.add(p.id);
    }
    const got = await rootIds(root);
    assert.deepEqual([...got.keys()].sort(), [...expected.keys()].sort());
    for (const [k, ids] of got) assert.deepEqual(ids.sort(), [...expected.get(k)!].sort(), k);
    const dead = await readAllRows(await loadSnapshot(new LocalObjectStore(path.join(root, '_dead_letters'))));
    assert.equal(dead.length, invalid + 1);
    assert.ok(dead.some((d) => /invalid JSON/.test(d.error as string) && d.offset === 401n));
    assert.ok(dead.some((d) => /invalid subreddit name/.test(d.error as string)));
    assert.ok(invalid > 0);

    // The same load again adds nothing.
    const again = cli('load', input, '--root', root, '--batch-size', '150');
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, / 0 posts committed/);
    const after = await rootIds(root);
    for (const [k, ids] of after) assert.equal(ids.length, expected.get(k)!.size, k);
    assert.equal(
      (await readAllRows(await loadSnapshot(new LocalObjectStore(path.join(root, '_dead_letters'))))).length,
      invalid + 1,
    );
  });

  it('resumes after kill -9 without loss or duplicates', async () => {
    const dir = tmp();
    const input = path.join(dir, 'gen.ndjson.gz');
    assert.equal(
      cli('generate', '--count', '30000', '--seed', '3', '--subreddits', 'alpha,beta,gamma', '--out', input).code,
      0,
    );
    const root = path.join(dir, 'lake');
    let kills = 0;
    for (let attempt = 0; attempt < 3; attempt++) {
      const child = spawn(process.execPath, [CLI, 'load', input, '--root', root, '--batch-size', '1000'], {
        stdio: 'ignore',
      });
      // Kill once at least one more commit has landed than before.
      const before = countCommits(root);
      const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
      const deadline = Date.now() + 60_000;
      let killed = false;
      while (Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 20));
        if (child.exitCode !== null) break;
        if (countCommits(root) >= before + 2 + attempt) {
          child.kill('SIGKILL');
          killed = true;
          break;
        }
      }
      await exited;
      if (killed) kills++;
    }
    assert.ok(kills >= 1, 'the loader was killed mid-load at least once');
    const final = cli('load', input, '--root', root, '--batch-size', '1000');
    assert.equal(final.code, 0, final.stderr);
    const ids = [...(await rootIds(root)).values()].flat();
    assert.equal(ids.length, 30000);
    assert.equal(new Set(ids).size, 30000);
  });

  it('reads .zst written with a long window (Reddit dump archives)', async () => {
    const dir = tmp();
    const lines = fs.readFileSync(POSTS, 'utf8');
    // windowLog 28 > zstd's default decoder limit (27): needs windowLogMax
    // Streaming compression (no pledged size) keeps the 2^28 window in the frame header.
    const c = zlib.createZstdCompress({
      params: { [zlib.constants.ZSTD_c_windowLog]: 28, [zlib.constants.ZSTD_c_enableLongDistanceMatching]: 1 },
    });
    const chunks: Buffer[] = [];
    c.on('data', (d: Buffer) => chunks.push(d));
    const ended = new Promise((r) => c.on('end', r));
    c.end(Buffer.from(lines));
    await ended;
    const zst = Buffer.concat(chunks);
    const input = path.join(dir, 'RS_2026-01.zst');
    fs.writeFileSync(input, zst);
    assert.throws(
      () => zlib.zstdDecompressSync(zst),
      /too much memory|window/i,
      'a default decoder must refuse this frame',
    );
    const table = path.join(dir, 'all_posts');
    const r = cli('load', input, '--table', table);
    assert.equal(r.code, 0, r.stderr);
    assert.equal((await tableIds(table)).length, lines.split('\n').filter(Boolean).length);
  });

  it('skips a byte order mark; a line beyond the largest post is a dead letter (its head kept), read in linear time', async () => {
    const dir = tmp();
    const posts = fs.readFileSync(POSTS, 'utf8').split('\n').filter(Boolean).slice(0, 20);
    // One 40 MB line in the middle: the old reader joined the partial line on every 16 KiB chunk (quadratic).
    const huge = `{"id":"huge","subreddit":"x","title":"${'a'.repeat(40 << 20)}"}`;
    const text = '\ufeff' + [...posts.slice(0, 10), huge, ...posts.slice(10)].join('\r\n') + '\r\n';
    const input = path.join(dir, 'bom.ndjson.gz');
    fs.writeFileSync(input, zlib.gzipSync(Buffer.from(text)));
    const table = path.join(dir, 'all');
    const r = cli('load', input, '--table', table);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /21 lines, 20 posts committed, 0 skipped, 1 dead letters/);
    assert.deepEqual((await tableIds(table)).sort(), posts.map((l) => JSON.parse(l).id).sort());
    const dead = await readAllRows(await loadSnapshot(new LocalObjectStore(path.join(dir, '_dead_letters'))));
    assert.equal(dead.length, 1);
    assert.match(dead[0].error as string, /line of 4194\d{4} bytes exceeds the 1048576 bytes a post may have/);
    assert.equal((dead[0].value as Uint8Array).length, 1048576);
  });

  it('reads lines across chunks and gives lines beyond the limit as LongLine wherever they lie', async () => {
    const { readLines } = await import('../../src/ingest/load.ts');
    const dir = tmp();
    const file = path.join(dir, 'lines.ndjson');
    fs.writeFileSync(file, `a\n${'B'.repeat(100)}\nc\r\nlast`);
    const got: unknown[] = [];
    for await (const l of readLines(file, undefined, 50)) {
      got.push(
        Buffer.isBuffer(l)
          ? l.toString()
          : { head: (l as { head: Buffer }).head.length, bytes: (l as { bytes: number }).bytes },
      );
    }
    assert.deepEqual(got, ['a', { head: 50, bytes: 100 }, 'c\r', 'last']);
  });

  it('explains bad usage', () => {
    assert.match(cli('load', POSTS).stderr, /exactly one of --root/);
    assert.match(cli('load', '/nope.ndjson', '--root', tmp()).stderr, /input file not found/);
  });
});

function countCommits(root: string): number {
  if (!fs.existsSync(root)) return 0;
  let n = 0;
  for (const t of fs.readdirSync(root)) {
    const log = path.join(root, t, '_delta_log');
    if (fs.existsSync(log)) n += fs.readdirSync(log).filter((f) => f.endsWith('.json')).length;
  }
  return n;
}

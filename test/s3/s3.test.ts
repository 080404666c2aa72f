/**
 * Delta tables on a real S3-compatible server (versitygw, started here):
 * the store contract incl. conditional writes proven, tables delta-rs and
 * Polars read with endpoint options, racing writers, and clear errors.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as http from 'node:http';
import * as net from 'node:net';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readAllRows } from '../../src/delta/scan.ts';
import { loadSnapshot } from '../../src/delta/snapshot.ts';
import { field, struct } from '../../src/delta/schema.ts';
import { DeltaTable } from '../../src/delta/table.ts';
import { isNotFound, ReddStreamError } from '../../src/errors.ts';
import { S3ObjectStore } from '../../src/storage/s3.ts';
import { startS3Server, type S3Server } from '../../scripts/s3-server.ts';
import { REPO_ROOT } from '../helpers/fixtures.ts';
import { PY_PRELUDE, runPython } from '../helpers/python.ts';

let s3: S3Server;
const enc = new TextEncoder();
const store = (uri: string, extra: Record<string, unknown> = {}) =>
  new S3ObjectStore(uri, {
    endpoint: s3.endpoint,
    credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
    maxAttempts: 2,
    ...extra,
  });

describe('S3 (real S3-compatible server)', { timeout: 300_000 }, () => {
  before(async () => {
    s3 = await startS3Server();
    s3.createBucket('lake');
  });
  after(async () => {
    await s3?.stop();
  });

  it('store contract: get, ranges, head, list with pagination and startAfter, delete', async () => {
    const s = store('s3://lake/contract');
    await s.put('a/b.txt', enc.encode('hello world'));
    assert.equal(new TextDecoder().decode(await s.get('a/b.txt')), 'hello world');
    assert.equal(new TextDecoder().decode(await s.getRange('a/b.txt', 6, 11)), 'world');
    assert.equal((await s.head('a/b.txt'))?.size, 11);
    assert.equal(await s.head('a/none'), null);
    await assert.rejects(s.get('a/none'), (e: unknown) => isNotFound(e));
    for (let i = 0; i < 1005; i++) await s.put(`many/${String(i).padStart(4, '0')}`, enc.encode('x'));
    const listed = await s.list('many/');
    assert.equal(listed.length, 1005, 'listing is paginated past 1000 keys');
    assert.deepEqual(
      (await s.list('many/', { startAfter: 'many/1002' })).map((m) => m.path),
      ['many/1003', 'many/1004'],
    );
    await s.delete('a/b.txt');
    await s.delete('a/b.txt');
    assert.equal(await s.head('a/b.txt'), null);
  });

  it('put-if-absent is enforced by the server: a second put of the same key fails, one of many racers wins', async () => {
    const s = store('s3://lake/cond');
    assert.equal(await s.putIfAbsent('_delta_log/00000000000000000000.json', enc.encode('first')), true);
    assert.equal(await s.putIfAbsent('_delta_log/00000000000000000000.json', enc.encode('second')), false);
    assert.equal(new TextDecoder().decode(await s.get('_delta_log/00000000000000000000.json')), 'first');
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) => s.putIfAbsent('race/key', enc.encode(`w${i}`))),
    );
    assert.equal(results.filter(Boolean).length, 1);
    assert.equal(new TextDecoder().decode(await s.get('race/key')), `w${results.indexOf(true)}`);
  });

  it('writes Delta tables on S3 that our reader, delta-rs and Polars read identically (checkpoints, txn)', async () => {
    const uri = 's3://lake/tables/posts';
    const schema = struct([field('id', 'long'), field('sub', 'string'), field('score', 'long')]);
    const t = await DeltaTable.create(store(uri), { schema, partitionColumns: ['sub'] });
    for (let k = 0; k < 12; k++) {
      const r = await t.appendRows(
        Array.from({ length: 10 }, (_, j) => ({
          id: BigInt(k * 10 + j),
          sub: j % 2 ? 'rust' : 'a b/c',
          score: BigInt(j),
        })),
        { txns: [{ appId: 'loader', version: k }] },
      );
      assert.equal(r.kind, 'committed');
    }
    const snap = await loadSnapshot(store(uri));
    assert.equal(snap.version, 12);
    assert.equal(snap.checkpointVersion, 10);
    const ours = (await readAllRows(snap)).map((r) => `${r.id}|${r.sub}|${r.score}`).sort();
    assert.equal(ours.length, 120);
    const py = runPython(
      PY_PRELUDE +
        `
from deltalake import DeltaTable
import polars as pl
opts = {'AWS_ENDPOINT_URL': sys.argv[2], 'AWS_ACCESS_KEY_ID': sys.argv[3], 'AWS_SECRET_ACCESS_KEY': sys.argv[4], 'AWS_REGION': 'us-east-1', 'AWS_ALLOW_HTTP': 'true', 'AWS_S3_ADDRESSING_STYLE': 'path'}
dt = DeltaTable(sys.argv[1], storage_options=opts)
rows = sorted('%d|%s|%d' % (r['id'], r['sub'], r['score']) for r in dt.to_pyarrow_table().to_pylist())
df = pl.read_delta(sys.argv[1], storage_options=opts)
emit({'version': dt.version(), 'txn': dt.transaction_version('loader'), 'rows': rows, 'polars': df.height})
`,
      [uri, s3.endpoint, s3.accessKeyId, s3.secretAccessKey],
    );
    assert.equal(py.version, 12);
    assert.equal(py.txn, 11);
    assert.equal(py.polars, 120);
    assert.deepEqual(py.rows, ours);
  });

  it('uploads large objects in parts and reads them back by range', async () => {
    const s = store('s3://lake/big', { multipartThreshold: 6 * 1024 * 1024 });
    const data = new Uint8Array(20 * 1024 * 1024);
    for (let i = 0; i < data.length; i += 4096) data[i] = (i / 4096) & 255;
    await s.put('data/big.bin', data);
    assert.equal((await s.head('data/big.bin'))?.size, data.length);
    const slice = await s.getRange('data/big.bin', 17 * 1024 * 1024, 17 * 1024 * 1024 + 8192);
    assert.deepEqual(slice, data.subarray(17 * 1024 * 1024, 17 * 1024 * 1024 + 8192));
  });

  it('two writer processes racing on one S3 table: every commit lands exactly once', async () => {
    const uri = 's3://lake/tables/race';
    await DeltaTable.create(store(uri), { schema: struct([field('id', 'long'), field('worker', 'integer')]) });
    const env = {
      ...process.env,
      TEST_S3_ENDPOINT: s3.endpoint,
      TEST_S3_KEY: s3.accessKeyId,
      TEST_S3_SECRET: s3.secretAccessKey,
    };
    const run = (w: number) =>
      new Promise<Array<{ kind: string; version: number }>>((resolve, reject) => {
        const c = spawn(process.execPath, [path.join(REPO_ROOT, 'test/s3/race-worker.ts'), uri, String(w), '8'], {
          env,
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let out = '',
          err = '';
        c.stdout.on('data', (d) => (out += d));
        c.stderr.on('data', (d) => (err += d));
        c.on('exit', (code) =>
          code === 0
            ? resolve(
                out
                  .trim()
                  .split('\n')
                  .map((l) => JSON.parse(l)),
              )
            : reject(new Error(err)),
        );
      });
    const [a, b] = await Promise.all([run(1), run(2)]);
    const versions = [...a, ...b]
      .map((r) => {
        assert.equal(r.kind, 'committed');
        return r.version;
      })
      .sort((x, y) => x - y);
    assert.deepEqual(
      versions,
      Array.from({ length: 16 }, (_, i) => i + 1),
    );
    const snap = await loadSnapshot(store(uri));
    assert.equal(snap.version, 16);
    const rows = await readAllRows(snap);
    assert.equal(rows.length, 16);
    assert.equal(new Set(rows.map((r) => r.id)).size, 16);
    assert.equal(snap.txnVersion('w1'), 7);
    assert.equal(snap.txnVersion('w2'), 7);
  });

  it('wrong endpoint, missing bucket and bad credentials each give one clear message with the fix', async () => {
    const wrong = new S3ObjectStore('s3://lake/x', {
      endpoint: 'http://127.0.0.1:1',
      credentials: { accessKeyId: 'a', secretAccessKey: 'b' },
      maxAttempts: 1,
    });
    await assert.rejects(
      wrong.get('k'),
      (e: unknown) =>
        e instanceof ReddStreamError &&
        /cannot reach the S3 endpoint http:\/\/127\.0\.0\.1:1 .*check s3_endpoint/.test(e.message),
    );
    await assert.rejects(store('s3://no-such-bucket/x').list(''), /bucket "no-such-bucket" does not exist.*create it/);
    const badKey = new S3ObjectStore('s3://lake/x', {
      endpoint: s3.endpoint,
      credentials: { accessKeyId: 'nobody', secretAccessKey: 'nothing' },
      maxAttempts: 1,
    });
    await assert.rejects(
      badKey.get('k'),
      (e: unknown) =>
        e instanceof ReddStreamError &&
        /access key|credentials|access denied/i.test(e.message) &&
        !e.message.includes('nothing'),
    );
    s3.createUser('outsider', 'outsider-secret');
    const outsider = new S3ObjectStore('s3://lake/x', {
      endpoint: s3.endpoint,
      credentials: { accessKeyId: 'outsider', secretAccessKey: 'outsider-secret' },
      maxAttempts: 1,
    });
    await assert.rejects(
      outsider.put('k', enc.encode('x')),
      (e: unknown) =>
        e instanceof ReddStreamError &&
        /access denied to write s3:\/\/lake\/x\/k: grant s3:GetObject, s3:PutObject/.test(e.message) &&
        !e.message.includes('outsider-secret'),
    );
    const badSecret = new S3ObjectStore('s3://lake/x', {
      endpoint: s3.endpoint,
      credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: 'wrong-secret' },
      maxAttempts: 1,
    });
    await assert.rejects(
      badSecret.get('k'),
      (e: unknown) =>
        e instanceof ReddStreamError && /secret key is wrong/.test(e.message) && !e.message.includes('wrong-secret'),
    );
  });

  it('a commit PUT that lands but whose reply is lost (the SDK retries it and gets 412) counts as committed; its files stay', async () => {
    // A proxy in front of the server drops the reply to the first conditional PUT of version 1.
    let drop = true;
    const retried: number[] = [];
    const up = new URL(s3.endpoint);
    const proxy = http.createServer((req, res) => {
      const body: Buffer[] = [];
      req.on('data', (c: Buffer) => body.push(c));
      req.on('end', () => {
        const commitPut =
          req.method === 'PUT' &&
          /_delta_log\/0{19}1\.json/.test(req.url ?? '') &&
          req.headers['if-none-match'] === '*';
        const u = http.request(
          { host: up.hostname, port: up.port, method: req.method, path: req.url, headers: req.headers },
          (ur) => {
            const out: Buffer[] = [];
            ur.on('data', (c: Buffer) => out.push(c));
            ur.on('end', () => {
              if (commitPut && drop) {
                drop = false;
                req.socket.destroy();
                return;
              }
              if (commitPut) retried.push(ur.statusCode ?? 0);
              res.writeHead(ur.statusCode ?? 500, ur.headers);
              res.end(Buffer.concat(out));
            });
          },
        );
        u.end(Buffer.concat(body));
      });
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', () => r()));
    try {
      const s = new S3ObjectStore('s3://lake/lost-reply', {
        endpoint: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`,
        credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
        maxAttempts: 3,
      });
      const t = await DeltaTable.create(s, { schema: struct([field('id', 'string')]) });
      const r = await t.appendRows([{ id: 'a' }, { id: 'b' }], { txns: [{ appId: 'g-reddit_x-0', version: 41 }] });
      assert.deepEqual(retried, [412], 'the retry of the landed PUT was refused by the server');
      assert.equal(r.kind, 'committed', JSON.stringify(r));
      const snap = await loadSnapshot(store('s3://lake/lost-reply'));
      assert.equal(snap.version, 1);
      assert.equal(snap.txnVersion('g-reddit_x-0'), 41);
      assert.deepEqual((await readAllRows(snap)).map((row) => row.id).sort(), ['a', 'b']);
    } finally {
      proxy.close();
    }
  });

  it('a server that accepts connections but never answers fails the request after the idle timeout (no hang)', async () => {
    const sockets = new Set<net.Socket>();
    const silent = net.createServer((c) => sockets.add(c));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', () => r()));
    try {
      const s = new S3ObjectStore('s3://lake/x', {
        endpoint: `http://127.0.0.1:${(silent.address() as AddressInfo).port}`,
        credentials: { accessKeyId: 'a', secretAccessKey: 'b' },
        maxAttempts: 2,
        timeouts: { idleMs: 300 },
      });
      await assert.rejects(s.putIfAbsent('_delta_log/00000000000000000000.json', enc.encode('{}')), (e: Error) =>
        /timed out|timeout/i.test(`${e.message} ${(e.cause as Error | undefined)?.message ?? ''}`),
      );
    } finally {
      silent.close();
      for (const c of sockets) c.destroy();
    }
  });
});

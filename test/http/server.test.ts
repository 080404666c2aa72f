/** The status server: its routes, and the requests it refuses without disturbing anything else. */
import assert from 'node:assert/strict';
import * as net from 'node:net';
import { after, describe, it } from 'node:test';
import { parseListenAddress } from '../../src/config/listen-address.ts';
import { startHttpServer, type RunningServer } from '../../src/http/server.ts';
import { silentLogger } from '../../src/logger.ts';

const servers: RunningServer[] = [];
after(() => Promise.all(servers.map((s) => s.close())));

async function start(limits = {}) {
  let calls = 0;
  const server = await startHttpServer(
    { host: '127.0.0.1', port: 0 },
    {
      '/ok': () => ({ status: 200, contentType: 'text/plain', body: `call ${++calls}\n` }),
      '/boom': () => {
        throw new Error('secret detail');
      },
    },
    silentLogger,
    limits,
  );
  servers.push(server);
  return server;
}

/** Write raw bytes to the server and read until it closes the connection. */
function raw(url: string, data: string): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), hostname, () => socket.write(data));
    let out = '';
    socket.on('data', (d) => (out += d));
    socket.on('close', () => resolve(out));
    socket.on('error', reject);
  });
}

describe('status server', () => {
  it('serves its routes; 404 for others, 405 for other methods, HEAD without a body, 500 without details', async () => {
    const s = await start();
    const ok = await fetch(`${s.url}/ok?x=1`);
    assert.equal(ok.status, 200);
    assert.equal(await ok.text(), 'call 1\n');
    assert.equal(ok.headers.get('cache-control'), 'no-store');
    assert.equal((await fetch(`${s.url}/nope`)).status, 404);
    assert.equal((await fetch(`${s.url}/__proto__`)).status, 404);
    const post = await fetch(`${s.url}/ok`, { method: 'POST', body: 'x' });
    assert.equal(post.status, 405);
    assert.equal(post.headers.get('allow'), 'GET, HEAD');
    const head = await fetch(`${s.url}/ok`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(await head.text(), '');
    const boom = await fetch(`${s.url}/boom`);
    assert.equal(boom.status, 500);
    assert.doesNotMatch(await boom.text(), /secret/);
  });

  it('refuses huge headers and garbage, cuts off slow clients, and keeps serving', async () => {
    const s = await start({ headersTimeoutMs: 300, requestTimeoutMs: 300 });
    const huge = await raw(s.url, `GET /ok HTTP/1.1\r\nhost: x\r\nx-big: ${'a'.repeat(64 * 1024)}\r\n\r\n`);
    assert.match(huge, /^HTTP\/1\.1 431/);
    assert.match(await raw(s.url, 'NOT HTTP AT ALL\r\n\r\n'), /^HTTP\/1\.1 400/);
    // Headers never finished: the server closes the connection by itself.
    const slow = await raw(s.url, 'GET /ok HTTP/1.1\r\nhost: x\r\n');
    assert.match(slow, /^HTTP\/1\.1 408/);
    assert.equal((await fetch(`${s.url}/ok`)).status, 200);
  });

  it('an address in use is a clear error naming it', async () => {
    const s = await start();
    const port = Number(new URL(s.url).port);
    await assert.rejects(
      startHttpServer({ host: '127.0.0.1', port }, {}, silentLogger),
      (err: Error & { code?: string }) => {
        assert.equal(err.code, 'ADDRESS_IN_USE');
        assert.match(err.message, new RegExp(`metrics_address 127\\.0\\.0\\.1:${port} is in use by another process`));
        return true;
      },
    );
  });

  it('parses listen addresses', () => {
    assert.deepEqual(parseListenAddress('127.0.0.1:9464'), { host: '127.0.0.1', port: 9464 });
    assert.deepEqual(parseListenAddress(' [::1]:0 '), { host: '::1', port: 0 });
    assert.deepEqual(parseListenAddress('metrics.local:80'), { host: 'metrics.local', port: 80 });
    assert.equal(parseListenAddress('OFF'), null);
    for (const bad of ['9464', ':9464', 'host:99999', 'a b:1', 'http://x:1']) {
      assert.throws(() => parseListenAddress(bad), /is not host:port/, bad);
    }
  });
});

/**
 * The process's small HTTP server (metrics, health, status page): GET and
 * HEAD on a fixed set of paths, nothing else. It must never disturb the
 * service it reports on, so every request is bounded: headers at most 16 KiB
 * (431 beyond), a request must arrive within 10 s and its headers within 5 s
 * (slow clients are cut off), idle keep-alive connections close after 5 s,
 * and a handler's failure is a 500 without details.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ReddStreamError } from '../errors.ts';
import type { Logger } from '../logger.ts';

export interface HttpResponse {
  status: number;
  contentType: string;
  body: string | Uint8Array;
  headers?: Record<string, string>;
}

/** Handlers by exact path (no query string matching). */
export type Routes = Record<string, () => HttpResponse | Promise<HttpResponse>>;

export interface ListenAddress {
  host: string;
  /** 0: any free port (the server's `url` tells which). */
  port: number;
}

export interface RunningServer {
  /** Base URL, e.g. http://127.0.0.1:9464 (the real port when 0 was asked). */
  readonly url: string;
  close(): Promise<void>;
}

const text = (status: number, body: string): HttpResponse => ({
  status,
  contentType: 'text/plain; charset=utf-8',
  body,
});

async function respond(routes: Routes, req: http.IncomingMessage, res: http.ServerResponse, log: Logger) {
  const path = (req.url ?? '/').split('?')[0];
  let r: HttpResponse;
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    r = { ...text(405, 'method not allowed\n'), headers: { allow: 'GET, HEAD' } };
  } else if (!Object.hasOwn(routes, path)) {
    r = text(404, 'not found\n');
  } else {
    try {
      r = await routes[path]();
    } catch (err) {
      log.debug('status server: a handler failed', { path, error: (err as Error).message });
      r = text(500, 'internal error\n');
    }
  }
  res.writeHead(r.status, { 'content-type': r.contentType, 'cache-control': 'no-store', ...r.headers });
  res.end(req.method === 'HEAD' ? undefined : r.body);
}

/** Time limits on clients (ms); the defaults are those of the module comment. */
export interface ClientLimits {
  requestTimeoutMs?: number;
  headersTimeoutMs?: number;
  keepAliveTimeoutMs?: number;
}

/** Listen on `address` and serve `routes`; a clear error when the address is taken. */
export async function startHttpServer(
  address: ListenAddress,
  routes: Routes,
  log: Logger,
  limits: ClientLimits = {},
): Promise<RunningServer> {
  const headersTimeout = limits.headersTimeoutMs ?? 5_000;
  const server = http.createServer({
    maxHeaderSize: 16 * 1024,
    requestTimeout: limits.requestTimeoutMs ?? 10_000,
    headersTimeout,
    // How often timed-out requests are looked for (Node's default, 30 s, would let a slow client stay that long).
    connectionsCheckingInterval: Math.min(1_000, headersTimeout),
  });
  server.keepAliveTimeout = limits.keepAliveTimeoutMs ?? 5_000;
  server.on('request', (req, res) => {
    respond(routes, req, res, log).catch(() => res.destroy());
  });
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    const status =
      err.code === 'HPE_HEADER_OVERFLOW'
        ? '431 Request Header Fields Too Large'
        : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
          ? '408 Request Timeout'
          : '400 Bad Request';
    if (socket.writable) socket.end(`HTTP/1.1 ${status}\r\nconnection: close\r\n\r\n`);
    else socket.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => reject(listenError(address, err)));
    server.listen(address.port, address.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const host = address.host.includes(':') ? `[${address.host}]` : address.host;
  return {
    url: `http://${host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function listenError(a: ListenAddress, err: NodeJS.ErrnoException): Error {
  const where = `${a.host}:${a.port}`;
  if (err.code === 'EADDRINUSE') {
    return new ReddStreamError(
      'ADDRESS_IN_USE',
      `metrics_address ${where} is in use by another process (set metrics_address to a free port, or off)`,
    );
  }
  if (err.code === 'EADDRNOTAVAIL' || err.code === 'ENOTFOUND' || err.code === 'EACCES') {
    return new ReddStreamError(
      'CONFIG_INVALID',
      `metrics_address ${where}: cannot listen there (${err.code}); use an address of this machine, or off`,
    );
  }
  return err;
}

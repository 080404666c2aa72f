/**
 * A real S3-compatible server for development and tests: versitygw (POSIX
 * backend) built from the Go module proxy (scripts/s3-fetch.sh), listening on
 * 127.0.0.1. It enforces conditional writes (If-None-Match), which Delta
 * commits on S3 rely on.
 *
 *   node scripts/s3-server.ts [--port 7070]   # for a person; Ctrl-C stops it
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { canConnect, cleanUpAtExit, freePort } from './kafka-broker.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export interface S3Server {
  endpoint: string;
  port: number;
  accessKeyId: string;
  secretAccessKey: string;
  dataDir: string;
  /** Create a bucket (a directory of the POSIX backend). */
  createBucket(name: string): void;
  /** Create a non-admin user (internal IAM): it can use only buckets it owns. */
  createUser(accessKeyId: string, secretAccessKey: string): void;
  stop(): Promise<void>;
  start(): Promise<void>;
}

export async function startS3Server(options: { port?: number; dataDir?: string } = {}): Promise<S3Server> {
  const bin = execFileSync('bash', [path.join(ROOT, 'scripts/s3-fetch.sh')], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  })
    .trim()
    .split('\n')
    .pop()!;
  const port = options.port ?? (await freePort());
  const dataDir = options.dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'rs-s3-'));
  const gwroot = path.join(dataDir, 'gw');
  fs.mkdirSync(gwroot, { recursive: true });
  fs.mkdirSync(path.join(dataDir, 'iam'), { recursive: true });
  const accessKeyId = 'reddit-stream-test';
  const secretAccessKey = 'reddit-stream-test-secret';
  const logFile = path.join(dataDir, 'versitygw.log');
  let child: ChildProcess | null = null;
  const start = async () => {
    const out = fs.openSync(logFile, 'a');
    child = spawn(
      bin,
      [
        '--access',
        accessKeyId,
        '--secret',
        secretAccessKey,
        '--port',
        `127.0.0.1:${port}`,
        '--iam-dir',
        path.join(dataDir, 'iam'),
        'posix',
        gwroot,
      ],
      { stdio: ['ignore', out, out] },
    );
    fs.closeSync(out);
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      if (child.exitCode !== null) {
        throw new Error(`versitygw exited with ${child.exitCode}: ${fs.readFileSync(logFile, 'utf8').slice(-2000)}`);
      }
      if (await canConnect(port)) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`versitygw did not listen on ${port} within 30 s; see ${logFile}`);
  };
  const stop = () =>
    new Promise<void>((resolve) => {
      const c = child;
      if (!c || c.exitCode !== null || c.signalCode !== null) return resolve();
      c.once('exit', () => resolve());
      c.kill('SIGTERM');
    });
  cleanUpAtExit(() => child, dataDir, options.dataDir === undefined);
  await start();
  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    accessKeyId,
    secretAccessKey,
    dataDir,
    createBucket: (name) => fs.mkdirSync(path.join(gwroot, name), { recursive: true }),
    createUser: (access, secret) => {
      execFileSync(
        bin,
        [
          'admin',
          '--access',
          accessKeyId,
          '--secret',
          secretAccessKey,
          '--endpoint-url',
          `http://127.0.0.1:${port}`,
          'create-user',
          '--access',
          access,
          '--secret',
          secret,
          '--role',
          'user',
        ],
        { stdio: ['ignore', 'ignore', 'pipe'] },
      );
    },
    stop,
    start,
  };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const i = process.argv.indexOf('--port');
  const s = await startS3Server({ port: i > 0 ? Number(process.argv[i + 1]) : 7070 });
  s.createBucket('lake');
  console.log(
    `S3 server (versitygw) at ${s.endpoint}, bucket "lake", access key ${s.accessKeyId} (data in ${s.dataDir}); Ctrl-C stops it`,
  );
  const stop = async () => {
    await s.stop();
    process.exit(0);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

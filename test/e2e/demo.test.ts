/**
 * `reddit-stream demo` in a clean folder: the console summary, the query
 * result, tables delta-rs reads, and a second run that continues exactly
 * where the first stopped (txn offsets) without duplicates.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { REPO_ROOT } from '../helpers/fixtures.ts';
import { PY_PRELUDE, runPython } from '../helpers/python.ts';

function demo(cwd: string, ...args: string[]) {
  const r = spawnSync(process.execPath, [path.join(REPO_ROOT, 'src/cli/main.ts'), 'demo', ...args], {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, KAFKA_HOST: '127.0.0.1:1' },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('demo', () => {
  it('runs the pipeline into ./lake on local defaults, and a second run continues exactly once', () => {
    const cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'rs-demo-'));
    const first = demo(cwd, '--posts', '300', '--batch-size', '100');
    assert.match(first.stdout, /no Kafka broker answers at/);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /source: in-process generator/);
    assert.match(first.stdout, /^batch technology v1: \d+ posts in \d+ ms/m);
    assert.match(first.stdout, /^ {2}r\/technology +\d+ +20\d\d-\d\d-\d\d \d\d:\d\d:\d\dZ /m);
    assert.match(first.stdout, /committed 1200 posts in \d+ commits \(0 dead letters\)/);
    assert.match(first.stdout, /^subreddit +\| posts \| avg_score \| newest/m);
    assert.match(first.stdout, /^technology +\| 300 +\|/m);
    const second = demo(cwd, '--posts', '200', '--batch-size', '100');
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stdout, /^technology +\| 500 +\|/m);
    const lake = path.join(cwd, 'lake');
    const counts = runPython(
      PY_PRELUDE +
        `
from deltalake import DeltaTable
import polars as pl
out = {}
for t in ['technology', 'programming', 'dataengineering', 'python']:
    df = pl.read_delta(sys.argv[1] + '/' + t)
    out[t] = [df.height, df['id'].n_unique(), DeltaTable(sys.argv[1] + '/' + t).transaction_version('reddit-stream-demo-reddit_' + t + '-0')]
emit(out)
`,
      [lake],
    );
    for (const t of ['technology', 'programming', 'dataengineering', 'python']) {
      assert.deepEqual(counts[t], [500, 500, 249], t);
    }
  });
});

describe('demo with a reachable Kafka broker', { timeout: 180_000 }, () => {
  it('publishes generated posts to Kafka and consumes them with the consume service, saying so', async () => {
    const { startBroker } = await import('../helpers/kafka.ts');
    const broker = await startBroker({ partitions: 1 });
    try {
      const cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'rs-demo-kafka-'));
      const { spawn } = await import('node:child_process');
      const res = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
        const c = spawn(
          process.execPath,
          [path.join(REPO_ROOT, 'src/cli/main.ts'), 'demo', '--posts', '200', '--subreddits', 'alpha,beta'],
          { cwd, env: { ...process.env, KAFKA_HOST: broker.bootstrap }, stdio: ['ignore', 'pipe', 'pipe'] },
        );
        let stdout = '',
          stderr = '';
        c.stdout.on('data', (d) => (stdout += d));
        c.stderr.on('data', (d) => (stderr += d));
        c.on('exit', (code) => resolve({ code, stdout, stderr }));
      });
      assert.equal(res.code, 0, res.stderr);
      assert.match(res.stdout, new RegExp(`source: Kafka broker at ${broker.bootstrap.replace(/\./g, '\\.')}`));
      assert.match(res.stdout, /committed 400 posts/);
      assert.match(res.stdout, /^alpha +\| 200 +\|/m);
    } finally {
      await broker.stop();
    }
  });
});

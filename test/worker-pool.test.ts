import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { WorkerPool } from '../src/worker-pool.ts';

const url = new URL('./helpers/test-worker.ts', import.meta.url);

describe('WorkerPool', () => {
  it('runs jobs on workers, reports job errors, and survives a worker that dies', async () => {
    const pool = new WorkerPool<{ echo?: string; fail?: string; exit?: number }, string>(url, 2);
    try {
      assert.deepEqual(await Promise.all(['a', 'b', 'c'].map((echo) => pool.run({ echo }))), ['echo:a', 'echo:b', 'echo:c']);
      await assert.rejects(pool.run({ fail: 'bad input' }), /bad input/);
      await assert.rejects(pool.run({ exit: 3 }), /exited with code 3/, 'a dead worker fails its job instead of hanging it');
      assert.equal(pool.busy, 0);
      assert.equal(await pool.run({ echo: 'again' }), 'echo:again', 'a replacement worker takes the next job');
    } finally {
      await pool.close();
    }
  });

  it('stops idle workers and starts them again on demand', async () => {
    const pool = new WorkerPool<{ echo?: string }, string>(url, 1, { idleMs: 20 });
    try {
      assert.equal(await pool.run({ echo: '1' }), 'echo:1');
      const first = (pool as any).workers[0];
      assert.ok(first);
      await new Promise((r) => setTimeout(r, 200));
      assert.equal((pool as any).workers[0], null, 'the idle worker was stopped');
      assert.equal(await pool.run({ echo: '2' }), 'echo:2');
    } finally {
      await pool.close();
    }
  });
});

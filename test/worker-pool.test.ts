import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { WorkerPool } from '../src/worker-pool.ts';

const url = new URL('./helpers/test-worker.ts', import.meta.url);

describe('WorkerPool', () => {
  it('runs jobs on workers, reports job errors, and survives a worker that dies', async () => {
    const pool = new WorkerPool<{ echo?: string; fail?: string; exit?: number }, string>(url, 2);
    try {
      assert.deepEqual(await Promise.all(['a', 'b', 'c'].map((echo) => pool.run({ echo }))), [
        'echo:a',
        'echo:b',
        'echo:c',
      ]);
      await assert.rejects(pool.run({ fail: 'bad input' }), /bad input/);
      await assert.rejects(
        pool.run({ exit: 3 }),
        /exited with code 3/,
        'a dead worker fails its job instead of hanging it',
      );
      assert.equal(pool.busy, 0);
      assert.equal(await pool.run({ echo: 'again' }), 'echo:again', 'a replacement worker takes the next job');
    } finally {
      await pool.close();
    }
  });

  it('a dead worker fails only its own jobs: not one started right after on its replacement', async () => {
    const pool = new WorkerPool<{ echo?: string; crash?: boolean }, string>(url, 1);
    try {
      let next: Promise<string> | null = null;
      await assert.rejects(
        pool.run({ crash: true }).catch((err) => {
          next = pool.run({ echo: 'after-crash' });
          throw err;
        }),
        /boom/,
      );
      assert.equal(await next!, 'echo:after-crash', 'the late exit of the crashed worker does not fail it');
    } finally {
      await pool.close();
    }
    const idle = new WorkerPool<{ echo?: string }, string>(url, 1, { idleMs: 30 });
    try {
      await idle.run({ echo: '1' });
      // Submitted right after the idle stop, before the stopped worker's exit event.
      const p = await new Promise<Promise<string>>((res) =>
        setTimeout(() => res(idle.run({ echo: 'after-idle-stop' })), 30),
      );
      assert.equal(await p, 'echo:after-idle-stop');
    } finally {
      await idle.close();
    }
  });

  it('a stuck job fails after the job timeout and its worker is replaced', async () => {
    const pool = new WorkerPool<{ echo?: string; spin?: boolean }, string>(url, 1, { jobTimeoutMs: 300 });
    try {
      await assert.rejects(pool.run({ spin: true }), /did not finish a job within 300 ms; stopped it/);
      assert.equal(pool.busy, 0);
      assert.equal(await pool.run({ echo: 'next' }), 'echo:next');
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

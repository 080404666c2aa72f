/**
 * A small pool of worker threads running one kind of job (a module that calls
 * `serveJobs`). Each job goes to the least busy worker; buffers listed as
 * transferable move without copying. A worker that dies fails its pending
 * jobs with an error (never hangs them) and is replaced on the next job.
 * Idle workers do not keep the process alive, and are stopped after
 * `idleMs` without work (their memory returns to the system). A job that
 * takes longer than `jobTimeoutMs` means a stuck worker: it is stopped and
 * its jobs fail (the caller retries), so nothing waits forever.
 */
import { parentPort, Worker } from 'node:worker_threads';

interface Reply {
  id: number;
  result?: unknown;
  error?: string;
}

interface Entry {
  worker: Worker;
  busy: number;
  idleTimer?: NodeJS.Timeout;
  fail?: (err: Error) => void;
}

export class WorkerPool<Job, Result> {
  readonly size: number;
  private readonly url: URL;
  private readonly workers: Array<Entry | null>;
  private readonly idleMs: number;
  private readonly jobTimeoutMs: number;
  private nextId = 1;
  /** Jobs by id, with the worker running them (a dead worker fails only its own jobs). */
  private readonly pending = new Map<
    number,
    { resolve: (r: Result) => void; reject: (e: Error) => void; entry: Entry; timer?: NodeJS.Timeout }
  >();

  /** `url`: the worker module (a `.ts` sibling is used when running from sources). */
  constructor(url: URL, size = 1, options: { idleMs?: number; jobTimeoutMs?: number } = {}) {
    this.url = url;
    this.idleMs = options.idleMs ?? 60_000;
    this.jobTimeoutMs = options.jobTimeoutMs ?? 5 * 60_000;
    this.size = Math.max(1, size);
    this.workers = new Array(this.size).fill(null);
  }

  /** Jobs submitted and not yet answered. */
  get busy(): number {
    return this.pending.size;
  }

  private slot(): number {
    let best = 0;
    for (let i = 0; i < this.size; i++) {
      const w = this.workers[i];
      if (!w) return i;
      if (w.busy < (this.workers[best]?.busy ?? 0)) best = i;
    }
    return best;
  }

  private ensure(i: number): Entry {
    const existing = this.workers[i];
    if (existing) return existing;
    const worker = new Worker(this.url);
    const entry: Entry = { worker, busy: 0 };
    worker.unref();
    worker.on('message', (m: Reply) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      clearTimeout(p.timer);
      this.pending.delete(m.id);
      entry.busy--;
      if (entry.busy === 0) {
        worker.unref();
        entry.idleTimer = setTimeout(() => {
          if (entry.busy === 0 && this.workers[i] === entry) {
            this.workers[i] = null;
            void worker.terminate();
          }
        }, this.idleMs);
        entry.idleTimer.unref();
      }
      if (m.error !== undefined) p.reject(new Error(m.error));
      else p.resolve(m.result as Result);
    });
    const fail = (err: Error) => {
      clearTimeout(entry.idleTimer);
      if (this.workers[i] === entry) this.workers[i] = null;
      for (const [id, p] of this.pending) {
        if (p.entry === entry) {
          clearTimeout(p.timer);
          this.pending.delete(id);
          p.reject(err);
        }
      }
    };
    entry.fail = fail;
    worker.on('error', fail);
    worker.on('exit', (code) =>
      fail(new Error(`worker thread ${this.url.pathname.split('/').pop()} exited with code ${code}`)),
    );
    this.workers[i] = entry;
    return entry;
  }

  run(job: Job, transfer: ArrayBuffer[] = []): Promise<Result> {
    const id = this.nextId++;
    const slot = this.slot();
    const entry = this.ensure(slot);
    const done = new Promise<Result>((resolve, reject) => this.pending.set(id, { resolve, reject, entry }));
    const timer = setTimeout(() => {
      if (!this.pending.has(id)) return;
      entry.fail?.(
        new Error(
          `worker thread ${this.url.pathname.split('/').pop()} did not finish a job within ${this.jobTimeoutMs} ms; stopped it`,
        ),
      );
      void entry.worker.terminate();
    }, this.jobTimeoutMs);
    timer.unref();
    this.pending.get(id)!.timer = timer;
    clearTimeout(entry.idleTimer);
    entry.busy++;
    entry.worker.ref();
    try {
      entry.worker.postMessage({ id, job }, transfer);
    } catch (err) {
      // e.g. a value that cannot be cloned: fail this job, keep the worker.
      clearTimeout(timer);
      this.pending.delete(id);
      entry.busy--;
      if (entry.busy === 0) entry.worker.unref();
      return Promise.reject(err);
    }
    return done;
  }

  async close(): Promise<void> {
    const ws = this.workers.splice(0, this.workers.length, ...new Array(this.size).fill(null));
    for (const w of ws) clearTimeout(w?.idleTimer);
    await Promise.all(ws.map((w) => w?.worker.terminate()));
  }
}

/** The sibling module `name` of `base` (`.ts` when running from sources, `.js` when built). */
export function siblingModule(base: string, name: string): URL {
  const ext = base.endsWith('.ts') ? '.ts' : '.js';
  return new URL(`./${name}${ext}`, base);
}

/** Worker side: answer each job with `handle` (result and buffers to transfer). */
export function serveJobs<Job, Result>(
  handle: (
    job: Job,
  ) => Promise<{ result: Result; transfer?: ArrayBuffer[] }> | { result: Result; transfer?: ArrayBuffer[] },
): void {
  const port = parentPort;
  if (!port) throw new Error('serveJobs must run in a worker thread');
  port.on('message', async (m: { id: number; job: Job }) => {
    try {
      const { result, transfer } = await handle(m.job);
      port.postMessage({ id: m.id, result }, transfer ?? []);
    } catch (err) {
      port.postMessage({ id: m.id, error: (err as Error).message });
    }
  });
}

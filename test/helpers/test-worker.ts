/** A worker for WorkerPool tests: echoes jobs, fails on request, or dies. */
import { serveJobs } from '../../src/worker-pool.ts';

serveJobs<{ echo?: string; fail?: string; exit?: number; crash?: boolean; spin?: boolean }, string>((job) => {
  if (job.exit !== undefined) process.exit(job.exit);
  if (job.spin) {
    for (;;) {
      /* stuck */
    }
  }
  if (job.fail !== undefined) throw new Error(job.fail);
  // An uncaught error: the worker emits 'error', then 'exit' a little later.
  if (job.crash) {
    setImmediate(() => {
      throw new Error('boom (uncaught in worker)');
    });
  }
  return new Promise((resolve) => setTimeout(() => resolve({ result: `echo:${job.echo}` }), job.crash ? 1000 : 1));
});

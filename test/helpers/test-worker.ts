/** A worker for WorkerPool tests: echoes jobs, fails on request, or dies. */
import { serveJobs } from '../../src/worker-pool.ts';

serveJobs<{ echo?: string; fail?: string; exit?: number }, string>((job) => {
  if (job.exit !== undefined) process.exit(job.exit);
  if (job.fail !== undefined) throw new Error(job.fail);
  return { result: `echo:${job.echo}` };
});

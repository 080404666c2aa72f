/** Worker thread: a flush's raw messages in, encoded data files and dead-letter reasons out. */
import { serveJobs } from '../worker-pool.ts';
import { encodePostBatch, type PostBatchJob, type PostBatchResult } from './post-batch.ts';

serveJobs<PostBatchJob, PostBatchResult>(async (job) => {
  const result = await encodePostBatch(job);
  result.recycled = job.data.buffer as ArrayBuffer;
  return { result, transfer: [...result.files.map((f) => f.bytes.buffer as ArrayBuffer), result.recycled] };
});

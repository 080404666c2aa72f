/** Worker thread: Arrow IPC stream in, Parquet bytes out (parquet-wasm). */
import { serveJobs } from '../worker-pool.ts';
import { encodeIpc } from './wasm-writer.ts';
import type { ParquetWriteOptions } from './write.ts';

serveJobs<{ ipc: Uint8Array; options: ParquetWriteOptions }, Uint8Array>((job) => {
  const bytes = encodeIpc(job.ipc, job.options);
  return { result: bytes, transfer: [bytes.buffer as ArrayBuffer] };
});

/** Worker thread: Arrow IPC stream in, Parquet bytes out (parquet-wasm). */
import { parentPort } from 'node:worker_threads';
import { encodeIpc, type ParquetWriteOptions } from './write.ts';

interface Job { id: number; ipc: Uint8Array; options: ParquetWriteOptions }

parentPort!.on('message', (job: Job) => {
  try {
    const bytes = encodeIpc(job.ipc, job.options);
    parentPort!.postMessage({ id: job.id, bytes }, [bytes.buffer as ArrayBuffer]);
  } catch (err) {
    parentPort!.postMessage({ id: job.id, error: (err as Error).message });
  }
});

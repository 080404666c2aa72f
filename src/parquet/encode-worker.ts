/** Worker thread: Arrow IPC stream in, Parquet bytes out (parquet-wasm). */
import { parentPort } from 'node:worker_threads';
import pw from 'parquet-wasm/node';

interface Job { id: number; ipc: Uint8Array; codec: string; rowGroupSize: number }

parentPort!.on('message', (job: Job) => {
  try {
    const c = job.codec === 'zstd' ? pw.Compression.ZSTD : job.codec === 'snappy' ? pw.Compression.SNAPPY : job.codec === 'gzip' ? pw.Compression.GZIP : pw.Compression.UNCOMPRESSED;
    const props = new pw.WriterPropertiesBuilder().setCompression(c).setMaxRowGroupSize(job.rowGroupSize).setCreatedBy('reddit-stream delta writer (parquet-wasm)').build();
    const table = pw.Table.fromIPCStream(job.ipc);
    const bytes = pw.writeParquet(table, props);
    parentPort!.postMessage({ id: job.id, bytes }, [bytes.buffer as ArrayBuffer]);
  } catch (err) {
    parentPort!.postMessage({ id: job.id, error: (err as Error).message });
  }
});

/** `reddit-stream history`: one line per commit, newest first. */
import { readHistory } from '../delta/snapshot.ts';
import { openStore, type S3StoreOptions } from '../storage/index.ts';
import { renderTable } from './format.ts';

export async function historyLines(
  uri: string,
  options: { limit?: number; format?: 'table' | 'ndjson'; s3?: S3StoreOptions } = {},
): Promise<string[]> {
  const entries = await readHistory(openStore(uri, options.s3), options.limit);
  if (options.format === 'ndjson') {
    return entries.map((e) =>
      JSON.stringify({
        version: e.version,
        timestamp: e.timestamp === null ? null : new Date(e.timestamp).toISOString(),
        operation: e.operation,
        addedFiles: e.addedFiles,
        removedFiles: e.removedFiles,
        addedRows: e.addedRows,
        removedRows: e.removedRows,
        addedBytes: e.addedBytes,
      }),
    );
  }
  const rows = entries.map((e) => [
    String(e.version),
    e.timestamp === null ? '' : new Date(e.timestamp).toISOString(),
    e.operation ?? '',
    String(e.addedFiles),
    e.addedRows === null ? '?' : String(e.addedRows),
    String(e.removedFiles),
    e.removedRows === null ? '?' : String(e.removedRows),
  ]);
  return renderTable(
    ['version', 'timestamp', 'operation', 'files added', 'rows added', 'files removed', 'rows removed'],
    rows,
  );
}

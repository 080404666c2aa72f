/** Independent Parquet footer reader for tests (hyparquet directly, not our wrapper). */
import { parquetMetadata } from 'hyparquet';
import type { ObjectStore } from '../../src/storage/object-store.ts';

export async function hyparquetFooter(
  store: ObjectStore,
  path: string,
): Promise<{ numRows: number; columns: string[] }> {
  const bytes = await store.get(path);
  const md = parquetMetadata(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer);
  const columns = md.row_groups[0]?.columns.map((c) => c.meta_data!.path_in_schema[0]) ?? [];
  return { numRows: Number(md.num_rows), columns: [...new Set(columns)] };
}

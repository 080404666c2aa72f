/**
 * `reddit-stream load`: backfill files into the tables under a root (one per
 * subreddit) or into one table, idempotently (ingest/load.ts). The service
 * resolves where the tables live; the CLI only parses and prints.
 */
import * as nodePath from 'node:path';
import type { UnknownFieldPolicy } from '../reddit/post-schema.ts';
import type { PartitionBy } from '../reddit/time-partitions.ts';
import { loadFile, type LoadProgress, type LoadResult } from '../ingest/load.ts';
import { tableRootFor, TableCatalog } from '../ingest/tables.ts';
import type { Logger } from '../logger.ts';
import { Maintenance, type MaintenanceOptions } from '../ingest/maintenance.ts';
import { isS3Uri } from '../storage/index.ts';
import type { S3StoreOptions } from '../storage/s3.ts';

export interface LoadServiceOptions {
  files: string[];
  /** Exactly one of: route each post to `<root>/<subreddit>`, or load all into `table`. */
  root?: string;
  table?: string;
  batchSize: number;
  unknownFields: UnknownFieldPolicy;
  /** Time partitioning of the tables it creates. */
  partitionBy?: PartitionBy;
  /** S3 settings for a root URI (endpoint, credentials). */
  s3For: (uri: string) => S3StoreOptions | undefined;
  log: Logger;
  onProgress?: (p: LoadProgress) => void;
  onFile?: (r: LoadResult) => void;
  /** Automatic compaction settings (default: on, see ingest/maintenance.ts). */
  maintenance?: Omit<MaintenanceOptions, 'log'>;
}

export async function runLoad(o: LoadServiceOptions): Promise<LoadResult[]> {
  // --table <uri>: the table is the last path segment, its parent the root (dead letters go there too).
  const tableUri = o.table?.replace(/\/+$/, '');
  const rootUri = o.root ?? parentOf(tableUri!);
  const catalog = new TableCatalog(tableRootFor(rootUri, o.s3For(rootUri)), {
    log: o.log,
    unknownFields: o.unknownFields,
    partitionBy: o.partitionBy,
  });
  const maintenance = new Maintenance({ log: o.log, ...o.maintenance });
  const results: LoadResult[] = [];
  for (const f of o.files) {
    const res = await loadFile(f, {
      catalog,
      log: o.log,
      batchSize: o.batchSize,
      normalise: { unknownFields: o.unknownFields },
      table: tableUri ? tableUri.split('/').pop() : undefined,
      onProgress: o.onProgress,
      maintenance,
    });
    o.onFile?.(res);
    results.push(res);
  }
  await maintenance.idle();
  return results;
}

function parentOf(tableUri: string): string {
  return isS3Uri(tableUri)
    ? tableUri.slice(0, tableUri.lastIndexOf('/'))
    : nodePath.dirname(nodePath.resolve(tableUri));
}

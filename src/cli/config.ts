/** Configuration for CLI commands: flags -> Config (files and environment read here, at the edge). */
import { s3Options, type RawConfig } from '../config/config.ts';
import { loadConfig } from '../config/files.ts';
import type { S3StoreOptions } from '../storage/s3.ts';
import { isS3Uri } from '../storage/index.ts';

export interface ConfigFlags {
  config?: string;
  creds?: string;
  subreddits?: string;
  kafkaHost?: string;
  tableRoot?: string;
  groupId?: string;
  batchSize?: string;
  processingInterval?: string;
  autoOffsetReset?: string;
  s3Endpoint?: string;
  spoolDir?: string;
  metricsAddress?: string;
  debug?: boolean;
}

export function configFrom(f: ConfigFlags) {
  const flags: RawConfig = {
    subreddit: f.subreddits,
    kafka_host: f.kafkaHost,
    table_root: f.tableRoot,
    group_id: f.groupId,
    batch_size: f.batchSize,
    processing_interval: f.processingInterval,
    auto_offset_reset: f.autoOffsetReset,
    s3_endpoint: f.s3Endpoint,
    spool_dir: f.spoolDir,
    metrics_address: f.metricsAddress,
    debug: f.debug ? 'true' : undefined,
  };
  for (const k of Object.keys(flags)) if (flags[k] === undefined) delete flags[k];
  return loadConfig({ cwd: process.cwd(), configPath: f.config, credsPath: f.creds, env: process.env, flags });
}

/** S3 options for a table URI given on the command line (none for local paths). */
export function s3For(uri: string | undefined, f: ConfigFlags = {}): S3StoreOptions | undefined {
  return uri && isS3Uri(uri) ? s3Options(configFrom(f)) : undefined;
}

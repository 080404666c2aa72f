/** The shape of the resolved configuration, its defaults, and the error listing what is wrong with it. */
import { ReddStreamError } from '../errors.ts';
import type { PartitionBy } from '../reddit/time-partitions.ts';
import { DEFAULT_METRICS_ADDRESS } from './listen-address.ts';

export interface Config {
  subreddits: string[];
  kafkaBrokers: string[];
  /** How to reach Kafka: plaintext (default), TLS, SASL over plaintext or TLS. */
  kafkaSecurityProtocol: 'plaintext' | 'ssl' | 'sasl_plaintext' | 'sasl_ssl';
  kafkaSaslMechanism: 'PLAIN' | 'SCRAM-SHA-256' | 'SCRAM-SHA-512';
  /** PEM file of the CA that signed the brokers' certificates (TLS; default: the system's CAs). */
  kafkaSslCa?: string;
  postType: string;
  debug: boolean;
  /** Flush latency limit, seconds (old key `processing_interval`). */
  processingInterval: number;
  /** Messages per partition buffer before a flush. */
  batchSize: number;
  maxBatchBytes: number;
  maxMessageBytes: number;
  /** Worker threads parsing, normalising and encoding batches (undefined: one per core, at most 4). */
  workers?: number;
  /** Post batch encoder: the native addon when it loads (auto), always (native), or JavaScript (js). */
  encoder: 'auto' | 'native' | 'js';
  tableRoot: string;
  groupId: string;
  autoOffsetReset: 'earliest' | 'latest';
  unknownFields: 'keep' | 'drop';
  /** Time partitioning of the post tables the service creates (by `created_at`). */
  partitionBy: PartitionBy;
  /** S3-compatible endpoint (e.g. http://127.0.0.1:7070); AWS when unset. */
  s3Endpoint?: string;
  s3Region: string;
  s3PathStyle?: boolean;
  /** Allow commits on S3 stores without conditional writes (single writer only). */
  s3UnsafeSingleWriter: boolean;
  /** Local directory for batches kept while the table store fails. */
  spoolDir: string;
  spoolMaxBytes: number;
  /** Bytes polled between garbage collections the service asks for (0: left to V8). */
  gcEveryBytes: number;
  /** Compact tables automatically after commits (see ingest/maintenance.ts). */
  compact: boolean;
  /** Small files in a partition that start a compaction. */
  compactMinFiles: number;
  /** Input bytes a compaction rewrites at once (bounds its memory). */
  compactMaxRewriteBytes: number;
  /** Hours between automatic full vacuums (0: never). */
  vacuumEveryHours: number;
  /** Delete expired log files automatically. */
  logCleanup: boolean;
  /** Where the metrics, health and status server listens (`host:port`), or `off`. */
  metricsAddress: string;
  creds: {
    clientId?: string;
    secretId?: string;
    user?: string;
    password?: string;
    awsClient?: string;
    awsSecret?: string;
    kafkaUser?: string;
    kafkaPassword?: string;
  };
}

export const DEFAULTS: Omit<Config, 'creds'> = {
  subreddits: [],
  kafkaBrokers: ['localhost:9092'],
  kafkaSecurityProtocol: 'plaintext',
  kafkaSaslMechanism: 'PLAIN',
  postType: 'new',
  debug: false,
  processingInterval: 1,
  batchSize: 5000,
  maxBatchBytes: 8 * 1024 * 1024,
  maxMessageBytes: 1024 * 1024,
  tableRoot: './lake',
  groupId: 'reddit-stream',
  autoOffsetReset: 'earliest',
  unknownFields: 'keep',
  partitionBy: 'none',
  encoder: 'auto',
  s3Region: 'us-east-1',
  s3UnsafeSingleWriter: false,
  spoolDir: './spool',
  spoolMaxBytes: 1024 * 1024 * 1024,
  gcEveryBytes: 24 * 1024 * 1024,
  compact: true,
  compactMinFiles: 50,
  compactMaxRewriteBytes: 16 * 1024 * 1024,
  vacuumEveryHours: 24,
  logCleanup: true,
  metricsAddress: DEFAULT_METRICS_ADDRESS,
};

/** Raw values by config key, from one source (file, env, flags). */
export type RawConfig = Record<string, unknown>;

export class ConfigError extends ReddStreamError {
  readonly problems: string[];
  constructor(problems: string[]) {
    super('CONFIG_INVALID', `invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

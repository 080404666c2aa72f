/**
 * The configuration keys, one row each: the key (as in config.yaml and in
 * messages), the environment variables that set it (the first one set wins),
 * the Config field it fills and the parser that checks and converts its raw
 * value. Unset keys keep their value in DEFAULTS. The rows' order is the
 * order keys are listed in messages and checked in.
 *
 * The credential keys of creds.json have their own, smaller table (CREDS).
 */
import { isValidSubreddit } from '../reddit/subreddit.ts';
import { PARTITION_BY } from '../reddit/time-partitions.ts';
import { parseListenAddress } from './listen-address.ts';
import { DEFAULTS, type Config } from './model.ts';

/** A refused value: its message, which names the source and key and never echoes a secret. */
export class Invalid {
  readonly message: string;
  constructor(message: string) {
    this.message = message;
  }
}

/**
 * Checks and converts a raw value (a string from the environment or a flag,
 * anything YAML gives from a file). `where` is "<source>: <key>", the start
 * of every message.
 */
type Parser<T> = (raw: unknown, where: string) => T | Invalid;

type Field = Exclude<keyof Config, 'creds'>;

export interface Setting<F extends Field = Field> {
  key: string;
  env: readonly string[];
  field: F;
  parse: Parser<Config[F]>;
}

/** A row of the table, its parser checked against the type of its field. */
const setting = <F extends Field>(key: string, env: string[], field: F, parse: Parser<Config[F]>): Setting<F> => ({
  key,
  env,
  field,
  parse,
});

const got = (raw: unknown) => `(got ${JSON.stringify(raw)})`;

/** Numbers in YAML stay numbers; anything else is read as trimmed text. */
const toNumber = (raw: unknown) => (typeof raw === 'number' ? raw : Number(String(raw).trim()));

const integer =
  (min: number): Parser<number> =>
  (raw, where) => {
    const n = toNumber(raw);
    return Number.isInteger(n) && n >= min ? n : new Invalid(`${where} must be an integer >= ${min} ${got(raw)}`);
  };

const number =
  (min: number): Parser<number> =>
  (raw, where) => {
    const n = toNumber(raw);
    return Number.isFinite(n) && n >= min ? n : new Invalid(`${where} must be a number >= ${min} ${got(raw)}`);
  };

/** `host:port` or `off` (see listen-address.ts), kept as the text given, trimmed. */
const listenAddress: Parser<string> = (raw, where) => {
  try {
    parseListenAddress(String(raw));
    return String(raw).trim();
  } catch (err) {
    return new Invalid(`${where}: ${(err as Error).message}`);
  }
};

/** One of `options`, compared after trimming and lower-casing (upper-casing when `upperCase`). */
const oneOf =
  <T extends string>(options: readonly T[], upperCase = false): Parser<T> =>
  (raw, where) => {
    const text = String(raw).trim();
    const v = (upperCase ? text.toUpperCase() : text.toLowerCase()) as T;
    return options.includes(v) ? v : new Invalid(`${where} must be one of ${options.join(', ')} ${got(raw)}`);
  };

const boolean: Parser<boolean> = (raw, where) => {
  const v = String(raw).trim().toLowerCase();
  if (['true', '1', 'yes', 'on'].includes(v)) return true;
  if (['false', '0', 'no', 'off', ''].includes(v)) return false;
  return new Invalid(`${where} must be true or false ${got(raw)}`);
};

const nonEmptyText: Parser<string> = (raw, where) => String(raw).trim() || new Invalid(`${where} is empty`);

/** Trimmed text; empty text means the default. */
const textOr =
  (fallback: string): Parser<string> =>
  (raw) =>
    String(raw).trim() || fallback;

/** A YAML list or comma-separated text; `r/` prefixes dropped; lower case, without repeats. */
const subredditList: Parser<string[]> = (raw, where) => {
  const list = Array.isArray(raw) ? raw.map(String) : String(raw).split(',');
  const subs = list.map((s) => s.trim().replace(/^\/?r\//i, '')).filter(Boolean);
  const bad = subs.filter((s) => !isValidSubreddit(s));
  if (bad.length) {
    return new Invalid(
      `${where} has invalid subreddit names: ${bad.map((b) => JSON.stringify(b)).join(', ')} (2-21 letters, digits or underscores)`,
    );
  }
  return [...new Set(subs.map((s) => s.toLowerCase()))];
};

/** Parse `kafka_host`: "host" (port 9092), "host:port", or a comma-separated list of those. */
export function parseKafkaHosts(v: string): string[] {
  return v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((h) => {
      const ipv6 = /^\[.*\](:\d+)?$/.test(h);
      if (ipv6) return /\]:\d+$/.test(h) ? h : `${h}:9092`;
      const m = /^([^:\s]+)(?::(\d{1,5}))?$/.exec(h);
      if (!m) throw new Error(`"${h}" is not host or host:port`);
      const port = m[2] ? Number(m[2]) : 9092;
      if (port < 1 || port > 65535) throw new Error(`port ${port} out of range in "${h}"`);
      return `${m[1]}:${port}`;
    });
}

const kafkaHosts: Parser<string[]> = (raw, where) => {
  try {
    const hosts = parseKafkaHosts(String(raw));
    return hosts.length === 0 ? new Invalid(`${where} is empty`) : hosts;
  } catch (err) {
    return new Invalid(`${where}: ${(err as Error).message}`);
  }
};

/** An http(s) URL, without trailing slashes. */
const httpUrl: Parser<string> = (raw, where) => {
  const v = String(raw).trim();
  if (!/^https?:\/\/[^\s/]+/.test(v)) {
    return new Invalid(`${where} must be an http(s) URL such as http://127.0.0.1:7070 ${got(raw)}`);
  }
  return v.replace(/\/+$/, '');
};

const groupId: Parser<string> = (raw, where) => {
  const v = String(raw).trim();
  return /^[A-Za-z0-9._-]{1,200}$/.test(v)
    ? v
    : new Invalid(`${where} must be 1-200 letters, digits, ".", "_" or "-" ${got(raw)}`);
};

const MIB = 1024 * 1024;

/** Each requested GC is a full one: 0 (none requested) or at least 1 MiB between them. */
const gcEveryBytes: Parser<number> = (raw, where) => {
  const n = integer(0)(raw, where);
  if (n instanceof Invalid || n === 0 || n >= MIB) return n;
  return new Invalid(
    `${where} must be 0 (no requested GCs) or at least 1 MiB (1048576): each request is a full GC (got ${n})`,
  );
};

export const SETTINGS: readonly Setting[] = [
  setting('subreddit', ['REDDIT_STREAM_SUBREDDITS', 'subreddit'], 'subreddits', subredditList),
  setting('kafka_host', ['REDDIT_STREAM_KAFKA_HOST', 'KAFKA_HOST'], 'kafkaBrokers', kafkaHosts),
  setting(
    'kafka_security_protocol',
    ['REDDIT_STREAM_KAFKA_SECURITY_PROTOCOL'],
    'kafkaSecurityProtocol',
    oneOf(['plaintext', 'ssl', 'sasl_plaintext', 'sasl_ssl'] as const),
  ),
  setting(
    'kafka_sasl_mechanism',
    ['REDDIT_STREAM_KAFKA_SASL_MECHANISM'],
    'kafkaSaslMechanism',
    oneOf(['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512'] as const, true),
  ),
  setting('kafka_ssl_ca', ['REDDIT_STREAM_KAFKA_SSL_CA'], 'kafkaSslCa', nonEmptyText),
  setting(
    'post_type',
    ['REDDIT_STREAM_POST_TYPE'],
    'postType',
    oneOf(['new', 'hot', 'rising', 'top', 'controversial'] as const),
  ),
  setting('debug', ['REDDIT_STREAM_DEBUG'], 'debug', boolean),
  setting('processing_interval', ['REDDIT_STREAM_PROCESSING_INTERVAL'], 'processingInterval', number(0.01)),
  setting('batch_size', ['REDDIT_STREAM_BATCH_SIZE'], 'batchSize', integer(1)),
  setting('max_batch_bytes', ['REDDIT_STREAM_MAX_BATCH_BYTES'], 'maxBatchBytes', integer(1024)),
  setting('max_message_bytes', ['REDDIT_STREAM_MAX_MESSAGE_BYTES'], 'maxMessageBytes', integer(1024)),
  setting('workers', ['REDDIT_STREAM_WORKERS'], 'workers', integer(0)),
  setting('encoder', ['REDDIT_STREAM_ENCODER'], 'encoder', oneOf(['auto', 'native', 'js'] as const)),
  setting('table_root', ['REDDIT_STREAM_TABLE_ROOT'], 'tableRoot', nonEmptyText),
  setting('group_id', ['REDDIT_STREAM_GROUP_ID'], 'groupId', groupId),
  setting(
    'auto_offset_reset',
    ['REDDIT_STREAM_AUTO_OFFSET_RESET'],
    'autoOffsetReset',
    oneOf(['earliest', 'latest'] as const),
  ),
  setting('unknown_fields', ['REDDIT_STREAM_UNKNOWN_FIELDS'], 'unknownFields', oneOf(['keep', 'drop'] as const)),
  setting('partition_by', ['REDDIT_STREAM_PARTITION_BY'], 'partitionBy', oneOf(PARTITION_BY)),
  setting(
    's3_endpoint',
    ['REDDIT_STREAM_S3_ENDPOINT', 'AWS_ENDPOINT_URL_S3', 'AWS_ENDPOINT_URL'],
    's3Endpoint',
    httpUrl,
  ),
  setting(
    's3_region',
    ['REDDIT_STREAM_S3_REGION', 'AWS_REGION', 'AWS_DEFAULT_REGION'],
    's3Region',
    textOr(DEFAULTS.s3Region),
  ),
  setting('s3_path_style', ['REDDIT_STREAM_S3_PATH_STYLE'], 's3PathStyle', boolean),
  setting('s3_unsafe_single_writer', ['REDDIT_STREAM_S3_UNSAFE_SINGLE_WRITER'], 's3UnsafeSingleWriter', boolean),
  setting('spool_dir', ['REDDIT_STREAM_SPOOL_DIR'], 'spoolDir', textOr(DEFAULTS.spoolDir)),
  setting('spool_max_bytes', ['REDDIT_STREAM_SPOOL_MAX_BYTES'], 'spoolMaxBytes', integer(MIB)),
  setting('gc_every_bytes', ['REDDIT_STREAM_GC_EVERY_BYTES'], 'gcEveryBytes', gcEveryBytes),
  setting('compact', ['REDDIT_STREAM_COMPACT'], 'compact', boolean),
  setting('compact_min_files', ['REDDIT_STREAM_COMPACT_MIN_FILES'], 'compactMinFiles', integer(2)),
  setting(
    'compact_max_rewrite_bytes',
    ['REDDIT_STREAM_COMPACT_MAX_REWRITE_BYTES'],
    'compactMaxRewriteBytes',
    integer(MIB),
  ),
  setting('vacuum_every_hours', ['REDDIT_STREAM_VACUUM_EVERY_HOURS'], 'vacuumEveryHours', number(0)),
  setting('log_cleanup', ['REDDIT_STREAM_LOG_CLEANUP'], 'logCleanup', boolean),
  setting('metrics_address', ['REDDIT_STREAM_METRICS_ADDRESS'], 'metricsAddress', listenAddress),
];

/** The credential keys of creds.json (other keys there may serve other tools), their variable and field. */
export const CREDS: ReadonlyArray<{ key: string; env: string; field: keyof Config['creds'] }> = [
  { key: 'client_id', env: 'REDDIT_CLIENT_ID', field: 'clientId' },
  { key: 'secret_id', env: 'REDDIT_SECRET_ID', field: 'secretId' },
  { key: 'user', env: 'REDDIT_USER', field: 'user' },
  { key: 'password', env: 'REDDIT_PASSWORD', field: 'password' },
  { key: 'aws_client', env: 'AWS_ACCESS_KEY_ID', field: 'awsClient' },
  { key: 'aws_secret', env: 'AWS_SECRET_ACCESS_KEY', field: 'awsSecret' },
  { key: 'kafka_user', env: 'KAFKA_SASL_USERNAME', field: 'kafkaUser' },
  { key: 'kafka_password', env: 'KAFKA_SASL_PASSWORD', field: 'kafkaPassword' },
];

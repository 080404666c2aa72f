/**
 * Configuration: defaults < config.yaml < creds.json < environment < flags,
 * resolved once into a frozen object. Reads the old pipeline's files unchanged
 * (`config.yaml` keys subreddit, kafka_host, post_type, debug,
 * processing_interval, batch_size; `creds.json` keys client_id, secret_id,
 * user, password, aws_client, aws_secret) plus new keys with defaults
 * (creds.json may also hold kafka_user and kafka_password for SASL).
 * Every invalid value gets its own message; secrets never appear in them.
 */
import { ReddStreamError } from '../errors.ts';
import { isValidSubreddit } from '../reddit/subreddit.ts';

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
  encoder: 'auto',
  s3Region: 'us-east-1',
  s3UnsafeSingleWriter: false,
  spoolDir: './spool',
  spoolMaxBytes: 1024 * 1024 * 1024,
  gcEveryBytes: 24 * 1024 * 1024,
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

const KEYS: Record<string, { env: string[]; secret?: boolean }> = {
  subreddit: { env: ['REDDIT_STREAM_SUBREDDITS', 'subreddit'] },
  kafka_host: { env: ['REDDIT_STREAM_KAFKA_HOST', 'KAFKA_HOST'] },
  kafka_security_protocol: { env: ['REDDIT_STREAM_KAFKA_SECURITY_PROTOCOL'] },
  kafka_sasl_mechanism: { env: ['REDDIT_STREAM_KAFKA_SASL_MECHANISM'] },
  kafka_ssl_ca: { env: ['REDDIT_STREAM_KAFKA_SSL_CA'] },
  post_type: { env: ['REDDIT_STREAM_POST_TYPE'] },
  debug: { env: ['REDDIT_STREAM_DEBUG'] },
  processing_interval: { env: ['REDDIT_STREAM_PROCESSING_INTERVAL'] },
  batch_size: { env: ['REDDIT_STREAM_BATCH_SIZE'] },
  max_batch_bytes: { env: ['REDDIT_STREAM_MAX_BATCH_BYTES'] },
  max_message_bytes: { env: ['REDDIT_STREAM_MAX_MESSAGE_BYTES'] },
  workers: { env: ['REDDIT_STREAM_WORKERS'] },
  encoder: { env: ['REDDIT_STREAM_ENCODER'] },
  table_root: { env: ['REDDIT_STREAM_TABLE_ROOT'] },
  group_id: { env: ['REDDIT_STREAM_GROUP_ID'] },
  auto_offset_reset: { env: ['REDDIT_STREAM_AUTO_OFFSET_RESET'] },
  unknown_fields: { env: ['REDDIT_STREAM_UNKNOWN_FIELDS'] },
  s3_endpoint: { env: ['REDDIT_STREAM_S3_ENDPOINT', 'AWS_ENDPOINT_URL_S3', 'AWS_ENDPOINT_URL'] },
  s3_region: { env: ['REDDIT_STREAM_S3_REGION', 'AWS_REGION', 'AWS_DEFAULT_REGION'] },
  s3_path_style: { env: ['REDDIT_STREAM_S3_PATH_STYLE'] },
  s3_unsafe_single_writer: { env: ['REDDIT_STREAM_S3_UNSAFE_SINGLE_WRITER'] },
  spool_dir: { env: ['REDDIT_STREAM_SPOOL_DIR'] },
  spool_max_bytes: { env: ['REDDIT_STREAM_SPOOL_MAX_BYTES'] },
  gc_every_bytes: { env: ['REDDIT_STREAM_GC_EVERY_BYTES'] },
};
const CRED_KEYS = [
  'client_id',
  'secret_id',
  'user',
  'password',
  'aws_client',
  'aws_secret',
  'kafka_user',
  'kafka_password',
] as const;
const CRED_ENV: Record<(typeof CRED_KEYS)[number], string> = {
  client_id: 'REDDIT_CLIENT_ID',
  secret_id: 'REDDIT_SECRET_ID',
  user: 'REDDIT_USER',
  password: 'REDDIT_PASSWORD',
  aws_client: 'AWS_ACCESS_KEY_ID',
  aws_secret: 'AWS_SECRET_ACCESS_KEY',
  kafka_user: 'KAFKA_SASL_USERNAME',
  kafka_password: 'KAFKA_SASL_PASSWORD',
};

/** Values set in the environment, by config key (pure: pass `process.env`). */
export function fromEnv(env: Record<string, string | undefined>): { config: RawConfig; creds: RawConfig } {
  const config: RawConfig = {};
  for (const [k, spec] of Object.entries(KEYS)) {
    for (const name of spec.env) {
      const v = env[name];
      if (v !== undefined && v !== '') {
        config[k] = v;
        break;
      }
    }
  }
  const creds: RawConfig = {};
  for (const k of CRED_KEYS) if (env[CRED_ENV[k]]) creds[k] = env[CRED_ENV[k]];
  return { config, creds };
}

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

/**
 * Merge sources (later wins) and validate. `sources` are named for messages,
 * e.g. [['config.yaml', fileValues], ['environment', env], ['flags', flags]].
 */
export function resolveConfig(
  sources: Array<[string, RawConfig]>,
  credSources: Array<[string, RawConfig]>,
): Readonly<Config> {
  const problems: string[] = [];
  const merged: RawConfig = {};
  const origin: Record<string, string> = {};
  for (const [name, src] of sources) {
    for (const [k, v] of Object.entries(src)) {
      if (v === undefined || v === null) continue;
      if (!(k in KEYS)) {
        problems.push(`${name}: unknown key "${k}" (known: ${Object.keys(KEYS).join(', ')})`);
        continue;
      }
      merged[k] = v;
      origin[k] = name;
    }
  }
  const where = (k: string) => `${origin[k] ?? 'default'}: ${k}`;
  const cfg: Config = {
    ...DEFAULTS,
    subreddits: [...DEFAULTS.subreddits],
    kafkaBrokers: [...DEFAULTS.kafkaBrokers],
    creds: {},
  };

  const int = (k: string, min: number, set: (n: number) => void) => {
    if (merged[k] === undefined) return;
    const n = typeof merged[k] === 'number' ? merged[k] : Number(String(merged[k]).trim());
    if (!Number.isInteger(n) || n < min) {
      problems.push(`${where(k)} must be an integer >= ${min} (got ${JSON.stringify(merged[k])})`);
    } else set(n);
  };
  const num = (k: string, min: number, set: (n: number) => void) => {
    if (merged[k] === undefined) return;
    const n = typeof merged[k] === 'number' ? merged[k] : Number(String(merged[k]).trim());
    if (!Number.isFinite(n) || n < min) {
      problems.push(`${where(k)} must be a number >= ${min} (got ${JSON.stringify(merged[k])})`);
    } else set(n);
  };
  const choice = <T extends string>(k: string, options: readonly T[], set: (v: T) => void) => {
    if (merged[k] === undefined) return;
    const v = String(merged[k]).trim().toLowerCase();
    if (!options.includes(v as T)) {
      problems.push(`${where(k)} must be one of ${options.join(', ')} (got ${JSON.stringify(merged[k])})`);
    } else set(v as T);
  };

  if (merged.subreddit !== undefined) {
    const v = merged.subreddit;
    const list = Array.isArray(v) ? v.map(String) : String(v).split(',');
    const subs = list.map((s) => s.trim().replace(/^\/?r\//i, '')).filter(Boolean);
    const bad = subs.filter((s) => !isValidSubreddit(s));
    if (bad.length) {
      problems.push(
        `${where('subreddit')} has invalid subreddit names: ${bad.map((b) => JSON.stringify(b)).join(', ')} (2-21 letters, digits or underscores)`,
      );
    }
    cfg.subreddits = [...new Set(subs.filter(isValidSubreddit).map((s) => s.toLowerCase()))];
  }
  if (merged.kafka_host !== undefined) {
    try {
      const hosts = parseKafkaHosts(String(merged.kafka_host));
      if (hosts.length === 0) problems.push(`${where('kafka_host')} is empty`);
      else cfg.kafkaBrokers = hosts;
    } catch (err) {
      problems.push(`${where('kafka_host')}: ${(err as Error).message}`);
    }
  }
  if (merged.post_type !== undefined) {
    choice('post_type', ['new', 'hot', 'rising', 'top', 'controversial'] as const, (v) => (cfg.postType = v));
  }
  const bool = (k: string, set: (b: boolean) => void) => {
    if (merged[k] === undefined) return;
    const v = String(merged[k]).trim().toLowerCase();
    if (['true', '1', 'yes', 'on'].includes(v)) set(true);
    else if (['false', '0', 'no', 'off', ''].includes(v)) set(false);
    else problems.push(`${where(k)} must be true or false (got ${JSON.stringify(merged[k])})`);
  };
  bool('debug', (b) => (cfg.debug = b));
  bool('s3_path_style', (b) => (cfg.s3PathStyle = b));
  bool('s3_unsafe_single_writer', (b) => (cfg.s3UnsafeSingleWriter = b));
  if (merged.s3_endpoint !== undefined) {
    const v = String(merged.s3_endpoint).trim();
    if (!/^https?:\/\/[^\s/]+/.test(v)) {
      problems.push(
        `${where('s3_endpoint')} must be an http(s) URL such as http://127.0.0.1:7070 (got ${JSON.stringify(merged.s3_endpoint)})`,
      );
    } else cfg.s3Endpoint = v.replace(/\/+$/, '');
  }
  if (merged.s3_region !== undefined) cfg.s3Region = String(merged.s3_region).trim() || cfg.s3Region;
  if (merged.spool_dir !== undefined) cfg.spoolDir = String(merged.spool_dir).trim() || cfg.spoolDir;
  int('spool_max_bytes', 1024 * 1024, (n) => (cfg.spoolMaxBytes = n));
  num('processing_interval', 0.01, (n) => (cfg.processingInterval = n));
  int('batch_size', 1, (n) => (cfg.batchSize = n));
  int('max_batch_bytes', 1024, (n) => (cfg.maxBatchBytes = n));
  int('max_message_bytes', 1024, (n) => (cfg.maxMessageBytes = n));
  int('workers', 0, (n) => (cfg.workers = n));
  int('gc_every_bytes', 0, (n) => {
    if (n !== 0 && n < 1024 * 1024) {
      problems.push(
        `${where('gc_every_bytes')} must be 0 (no requested GCs) or at least 1 MiB (1048576): each request is a full GC (got ${n})`,
      );
    } else cfg.gcEveryBytes = n;
  });
  if (merged.table_root !== undefined) {
    const v = String(merged.table_root).trim();
    if (!v) problems.push(`${where('table_root')} is empty`);
    else cfg.tableRoot = v;
  }
  if (merged.group_id !== undefined) {
    const v = String(merged.group_id).trim();
    if (!/^[A-Za-z0-9._-]{1,200}$/.test(v)) {
      problems.push(
        `${where('group_id')} must be 1-200 letters, digits, ".", "_" or "-" (got ${JSON.stringify(merged.group_id)})`,
      );
    } else cfg.groupId = v;
  }
  choice('auto_offset_reset', ['earliest', 'latest'] as const, (v) => (cfg.autoOffsetReset = v));
  choice(
    'kafka_security_protocol',
    ['plaintext', 'ssl', 'sasl_plaintext', 'sasl_ssl'] as const,
    (v) => (cfg.kafkaSecurityProtocol = v),
  );
  if (merged.kafka_sasl_mechanism !== undefined) {
    const v = String(merged.kafka_sasl_mechanism).trim().toUpperCase();
    if (v !== 'PLAIN' && v !== 'SCRAM-SHA-256' && v !== 'SCRAM-SHA-512') {
      problems.push(
        `${where('kafka_sasl_mechanism')} must be one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 (got ${JSON.stringify(merged.kafka_sasl_mechanism)})`,
      );
    } else cfg.kafkaSaslMechanism = v;
  }
  if (merged.kafka_ssl_ca !== undefined) {
    const v = String(merged.kafka_ssl_ca).trim();
    if (!v) problems.push(`${where('kafka_ssl_ca')} is empty`);
    else cfg.kafkaSslCa = v;
  }
  choice('unknown_fields', ['keep', 'drop'] as const, (v) => (cfg.unknownFields = v));
  choice('encoder', ['auto', 'native', 'js'] as const, (v) => (cfg.encoder = v));

  const creds: RawConfig = {};
  for (const [name, src] of credSources) {
    for (const [k, v] of Object.entries(src)) {
      // Other keys may serve other tools sharing the file: ignored.
      if (!(CRED_KEYS as readonly string[]).includes(k)) continue;
      if (v !== undefined && v !== null && typeof v !== 'string') problems.push(`${name}: ${k} must be a string`);
      else if (v) creds[k] = v;
    }
  }
  cfg.creds = {
    clientId: creds.client_id as string | undefined,
    secretId: creds.secret_id as string | undefined,
    user: creds.user as string | undefined,
    password: creds.password as string | undefined,
    awsClient: creds.aws_client as string | undefined,
    awsSecret: creds.aws_secret as string | undefined,
    kafkaUser: creds.kafka_user as string | undefined,
    kafkaPassword: creds.kafka_password as string | undefined,
  };
  if (cfg.kafkaSecurityProtocol.startsWith('sasl') && (!cfg.creds.kafkaUser || !cfg.creds.kafkaPassword)) {
    problems.push(
      `kafka_security_protocol ${cfg.kafkaSecurityProtocol.toUpperCase()} needs kafka_user and kafka_password (in creds.json, or KAFKA_SASL_USERNAME / KAFKA_SASL_PASSWORD)`,
    );
  }
  if (cfg.kafkaSslCa && !cfg.kafkaSecurityProtocol.endsWith('ssl')) {
    problems.push(
      `kafka_ssl_ca is set but kafka_security_protocol is ${cfg.kafkaSecurityProtocol.toUpperCase()} (use SSL or SASL_SSL)`,
    );
  }
  if (problems.length) throw new ConfigError(problems);
  return Object.freeze(cfg);
}

const mask = (v: string | undefined) => (v === undefined ? null : '****');

/** The resolved configuration for display, secrets masked. */
export function describeConfig(cfg: Config): Record<string, unknown> {
  return {
    subreddit: cfg.subreddits,
    kafka_host: cfg.kafkaBrokers.join(','),
    kafka_security_protocol: cfg.kafkaSecurityProtocol.toUpperCase(),
    ...(cfg.kafkaSecurityProtocol.startsWith('sasl') ? { kafka_sasl_mechanism: cfg.kafkaSaslMechanism } : {}),
    ...(cfg.kafkaSslCa ? { kafka_ssl_ca: cfg.kafkaSslCa } : {}),
    post_type: cfg.postType,
    debug: cfg.debug,
    processing_interval: cfg.processingInterval,
    batch_size: cfg.batchSize,
    max_batch_bytes: cfg.maxBatchBytes,
    max_message_bytes: cfg.maxMessageBytes,
    workers: cfg.workers ?? 'auto',
    encoder: cfg.encoder,
    table_root: cfg.tableRoot,
    group_id: cfg.groupId,
    auto_offset_reset: cfg.autoOffsetReset,
    unknown_fields: cfg.unknownFields,
    // user:password in an endpoint URL is a secret too: everything up to the last @ (a secret may hold / or @)
    s3_endpoint: cfg.s3Endpoint ? cfg.s3Endpoint.replace(/^([a-z][a-z0-9+.-]*:\/\/).*@/i, '$1***@') : null,
    s3_region: cfg.s3Region,
    s3_path_style: cfg.s3PathStyle ?? Boolean(cfg.s3Endpoint),
    s3_unsafe_single_writer: cfg.s3UnsafeSingleWriter,
    spool_dir: cfg.spoolDir,
    spool_max_bytes: cfg.spoolMaxBytes,
    gc_every_bytes: cfg.gcEveryBytes,
    creds: {
      client_id: cfg.creds.clientId ?? null,
      secret_id: mask(cfg.creds.secretId),
      user: cfg.creds.user ?? null,
      password: mask(cfg.creds.password),
      aws_client: cfg.creds.awsClient ? `${cfg.creds.awsClient.slice(0, 4)}****` : null,
      aws_secret: mask(cfg.creds.awsSecret),
      kafka_user: cfg.creds.kafkaUser ?? null,
      kafka_password: mask(cfg.creds.kafkaPassword),
    },
  };
}

/** Security options of every Kafka client (consumer, producer, admin) from the configuration. */
export interface KafkaConnection {
  sasl?: { mechanism: 'PLAIN' | 'SCRAM-SHA-256' | 'SCRAM-SHA-512'; username: string; password: string };
  /** TLS on: `{}` for the system's CAs, or the PEM of a CA file. */
  tls?: { ca?: string };
}

export function kafkaConnection(cfg: Config, readFile: (path: string) => string): KafkaConnection {
  const out: KafkaConnection = {};
  if (cfg.kafkaSecurityProtocol.startsWith('sasl')) {
    out.sasl = {
      mechanism: cfg.kafkaSaslMechanism,
      username: cfg.creds.kafkaUser!,
      password: cfg.creds.kafkaPassword!,
    };
  }
  if (cfg.kafkaSecurityProtocol.endsWith('ssl')) {
    let ca: string | undefined;
    if (cfg.kafkaSslCa) {
      try {
        ca = readFile(cfg.kafkaSslCa);
      } catch (err) {
        throw new ReddStreamError(
          'CONFIG_INVALID',
          `kafka_ssl_ca: cannot read ${cfg.kafkaSslCa}: ${(err as Error).message}`,
        );
      }
    }
    out.tls = ca === undefined ? {} : { ca };
  }
  return out;
}

/** Options for S3 table stores from the configuration (credentials: creds.json, else the AWS provider chain). */
export function s3Options(cfg: Config): import('../storage/s3.ts').S3StoreOptions {
  return {
    endpoint: cfg.s3Endpoint,
    region: cfg.s3Region,
    forcePathStyle: cfg.s3PathStyle,
    credentials:
      cfg.creds.awsClient && cfg.creds.awsSecret
        ? { accessKeyId: cfg.creds.awsClient, secretAccessKey: cfg.creds.awsSecret }
        : undefined,
    unsafeSingleWriter: cfg.s3UnsafeSingleWriter,
  };
}

/** Commands that stream need subreddits: refuse to start without them. */
export function requireSubreddits(cfg: Readonly<Config>): void {
  if (cfg.subreddits.length > 0) return;
  throw new ReddStreamError(
    'CONFIG_INVALID',
    'no subreddits configured: list them under `subreddit:` in config.yaml, set the `subreddit` environment variable, or pass --subreddits a,b',
  );
}

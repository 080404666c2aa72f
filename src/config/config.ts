/**
 * Configuration: defaults < config.yaml < creds.json < environment < flags,
 * resolved once into a frozen object. Reads the old pipeline's files unchanged
 * (`config.yaml` keys subreddit, kafka_host, post_type, debug,
 * processing_interval, batch_size; `creds.json` keys client_id, secret_id,
 * user, password, aws_client, aws_secret) plus new keys with defaults
 * (creds.json may also hold kafka_user and kafka_password for SASL).
 * Every invalid value gets its own message; secrets never appear in them.
 *
 * This module is the entry point of src/config: the keys and their parsers
 * are in settings.ts, the types and defaults in model.ts, Kafka security in
 * kafka-connection.ts, the masked display in describe.ts.
 */
import { ReddStreamError } from '../errors.ts';
import { kafkaSecurityProblems } from './kafka-connection.ts';
import { ConfigError, DEFAULTS, type Config, type RawConfig } from './model.ts';
import { CREDS, Invalid, SETTINGS, type Setting } from './settings.ts';

export { ConfigError, DEFAULTS, type Config, type RawConfig } from './model.ts';
export { parseKafkaHosts } from './settings.ts';
export { describeConfig } from './describe.ts';
export { kafkaConnection, type KafkaConnection } from './kafka-connection.ts';

const SETTING_KEYS = new Set(SETTINGS.map((s) => s.key));
const KNOWN_KEYS = [...SETTING_KEYS].join(', ');
const CRED_KEYS = new Set(CREDS.map((c) => c.key));

/** Values set in the environment, by config key (pure: pass `process.env`). */
export function fromEnv(env: Record<string, string | undefined>): { config: RawConfig; creds: RawConfig } {
  const config: RawConfig = {};
  for (const s of SETTINGS) {
    const value = s.env.map((name) => env[name]).find((v) => v !== undefined && v !== '');
    if (value !== undefined) config[s.key] = value;
  }
  const creds: RawConfig = {};
  for (const c of CREDS) if (env[c.env]) creds[c.key] = env[c.env];
  return { config, creds };
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
  const given = mergeSources(sources, problems);
  const cfg: Config = {
    ...DEFAULTS,
    subreddits: [...DEFAULTS.subreddits],
    kafkaBrokers: [...DEFAULTS.kafkaBrokers],
    creds: {},
  };
  for (const s of SETTINGS) {
    const g = given.get(s.key);
    if (g) applySetting(cfg, s, g.raw, `${g.source}: ${s.key}`, problems);
  }
  cfg.creds = resolveCreds(credSources, problems);
  problems.push(...kafkaSecurityProblems(cfg));
  if (problems.length) throw new ConfigError(problems);
  return Object.freeze(cfg);
}

/** The value each known key is last given in `sources`, and that source's name; unknown keys are problems. */
function mergeSources(
  sources: Array<[string, RawConfig]>,
  problems: string[],
): Map<string, { raw: unknown; source: string }> {
  const given = new Map<string, { raw: unknown; source: string }>();
  for (const [source, values] of sources) {
    for (const [k, raw] of Object.entries(values)) {
      if (raw === undefined || raw === null) continue;
      if (!SETTING_KEYS.has(k)) problems.push(`${source}: unknown key "${k}" (known: ${KNOWN_KEYS})`);
      else given.set(k, { raw, source });
    }
  }
  return given;
}

function applySetting(cfg: Config, s: Setting, raw: unknown, where: string, problems: string[]): void {
  const value = s.parse(raw, where);
  if (value instanceof Invalid) problems.push(value.message);
  else (cfg as unknown as Record<string, unknown>)[s.field] = value;
}

/** Credentials from their sources (later wins); keys other than the credential keys are ignored. */
function resolveCreds(credSources: Array<[string, RawConfig]>, problems: string[]): Config['creds'] {
  const values: RawConfig = {};
  for (const [source, src] of credSources) {
    for (const [key, v] of Object.entries(src)) {
      if (!CRED_KEYS.has(key)) continue;
      if (v !== undefined && v !== null && typeof v !== 'string') problems.push(`${source}: ${key} must be a string`);
      else if (v) values[key] = v;
    }
  }
  return Object.fromEntries(CREDS.map((c) => [c.field, values[c.key] as string | undefined]));
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

/**
 * `reddit-stream consume`: Kafka topics `reddit_<sub>` -> one Delta table per
 * subreddit under the table root, exactly once (see docs/DESIGN.md, Ingest).
 */
import * as fs from 'node:fs';
import * as nodePath from 'node:path';
import { hostname } from 'node:os';
import type { Config } from '../config/config.ts';
import { ReddStreamError } from '../errors.ts';
import { IngestPipeline, type PipelineOptions } from '../ingest/pipeline.ts';
import { formatSummary, type BatchSummary } from '../ingest/summary.ts';
import { tableRootFor, TableCatalog } from '../ingest/tables.ts';
import { kafkaConnection, requireSubreddits, s3Options } from '../config/config.ts';
import { KafkaSource } from '../kafka/source.ts';
import { classifyKafkaFailure, kafkaFailureAdvice } from '../kafka/failures.ts';
import type { Logger } from '../logger.ts';
import { topicFor } from '../reddit/subreddit.ts';
import { inlineEncoder, WorkerEncoder } from '../parquet/encoder.ts';
import { choosePostBatchEncoder, NativePostBatchEncoder } from '../ingest/native-encoder.ts';
import { Spool } from '../ingest/spool.ts';
import { Maintenance, type MaintenanceOptions } from '../ingest/maintenance.ts';
import { runLoop } from './run-loop.ts';
import { garbageCollection } from '../os/requested-gc.ts';
import { sleep } from '../time.ts';
import * as promClient from 'prom-client';
import { parseListenAddress } from '../config/listen-address.ts';
import { startHttpServer, type RunningServer, type Routes } from '../http/server.ts';
import { ConsumeMonitor } from './consume-monitor.ts';

export interface ConsumeOptions {
  config: Readonly<Config>;
  log: Logger;
  print: (line: string) => void;
  signal?: AbortSignal;
  /** Exit after everything is committed and nothing arrived for this many seconds. */
  untilIdleSeconds?: number;
  /** libuv's thread pool size (UV_THREADPOOL_SIZE; default 4): how many native encodes may run at once. */
  threadPoolSize?: number;
  /** Automatic compaction settings (default: on, see ingest/maintenance.ts). */
  maintenance?: Omit<MaintenanceOptions, 'log'>;
  /** Called with every committed batch (metrics, benchmarks). */
  onBatch?: (summary: BatchSummary) => void;
}

export interface ConsumeResult {
  rows: number;
  deadLetters: number;
  commits: number;
  firstMessageAt?: number | null;
  lastCommitAt?: number | null;
  /** Which post encoder ran. */
  encoder?: string;
  /** Partitions left unconsumed because their table needs a person (e.g. it cannot hold posts), with why. */
  blocked?: Array<{ topic: string; partition: number; error: ReddStreamError }>;
}

export async function runConsume(o: ConsumeOptions): Promise<ConsumeResult> {
  const cfg = o.config;
  requireSubreddits(cfg);
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(cfg.tableRoot) && !/^(file|s3a?):\/\//i.test(cfg.tableRoot)) {
    throw new ReddStreamError(
      'CONFIG_INVALID',
      `table_root ${cfg.tableRoot}: use a local directory, file:// or s3://bucket/prefix`,
    );
  }
  const topics = cfg.subreddits.map(topicFor);
  const encoders = chooseEncoders(cfg, o);
  const catalog = new TableCatalog(tableRootFor(cfg.tableRoot, s3Options(cfg)), {
    log: o.log,
    unknownFields: cfg.unknownFields,
    partitionBy: cfg.partitionBy,
    encoder: encoders.tables,
  });
  // Everything that may fail on bad settings (e.g. a missing CA file) before the spool is taken.
  const connection = kafkaConnection(cfg, (p) => fs.readFileSync(p, 'utf8'));
  const spool = await claimSpool(cfg, o.log);
  // The monitor asks the pipeline and the source, made below (they need it first).
  const parts: { source?: KafkaSource; pipeline?: IngestPipeline } = {};
  const monitor = new ConsumeMonitor({ pipeline: () => parts.pipeline, source: () => parts.source, spool });
  const server = await startStatusServer(cfg.metricsAddress, monitor, o.log).catch(async (err: unknown) => {
    await spool.close();
    throw err;
  });
  const maintenance = new Maintenance({
    log: o.log,
    ...maintenanceOptions(cfg),
    ...o.maintenance,
    onStep: (e) => monitor.maintenance(e),
  });
  const pipeline = ingestPipeline(cfg, o, { spool, maintenance, catalog, encoder: encoders.posts }, monitor);
  const source = new KafkaSource({
    bootstrapBrokers: cfg.kafkaBrokers,
    groupId: cfg.groupId,
    clientId: `reddit-stream-${hostname()}-${process.pid}`,
    topics,
    autoOffsetReset: cfg.autoOffsetReset,
    owner: pipeline,
    log: o.log,
    connection,
    metrics: { registry: monitor.registry, client: promClient },
  });
  Object.assign(parts, { source, pipeline });
  const info = { topics: topics.join(','), brokers: cfg.kafkaBrokers.join(','), group: cfg.groupId };
  o.log.info('consuming', { ...info, table_root: cfg.tableRoot });
  if ((await startSource(source, topics, cfg, o)) === 'aborted') {
    await source.close();
    await spool.close();
    await server?.close();
    return { rows: 0, deadLetters: 0, commits: 0 };
  }
  monitor.start();
  let blocked: ConsumeResult['blocked'];
  try {
    await runLoop({
      pipeline,
      source,
      log: o.log,
      signal: o.signal,
      untilIdleMs: o.untilIdleSeconds === undefined ? undefined : o.untilIdleSeconds * 1000,
      maxBufferedBytes: (encoders.posts.parallelism + 2) * cfg.maxBatchBytes,
      collectGarbage: garbageCollection(cfg.gcEveryBytes),
      observer: monitor,
    });
    blocked = source.blocked();
  } finally {
    if (encoders.posts instanceof NativePostBatchEncoder) o.log.info(encoders.posts.describe());
    await maintenance.idle();
    await source.close();
    await encoders.tables.close?.();
    await encoders.posts.close?.();
    await spool.close();
    monitor.stop();
    await server?.close();
  }
  const { rows, deadLetters, commits, firstMessageAt, lastCommitAt } = pipeline.totals;
  return { rows, deadLetters, commits, firstMessageAt, lastCommitAt, encoder: encoders.note, blocked };
}

/** The ingest pipeline as the configuration sets it: flush policy, normalising, console summaries. */
function ingestPipeline(
  cfg: Readonly<Config>,
  o: ConsumeOptions,
  parts: Pick<PipelineOptions, 'spool' | 'maintenance' | 'catalog' | 'encoder'>,
  monitor: ConsumeMonitor,
): IngestPipeline {
  return new IngestPipeline({
    ...parts,
    group: cfg.groupId,
    policy: {
      maxMessages: cfg.batchSize,
      maxBytes: cfg.maxBatchBytes,
      maxLatencyMs: Math.round(cfg.processingInterval * 1000),
    },
    normalise: { unknownFields: cfg.unknownFields, maxMessageBytes: cfg.maxMessageBytes },
    log: o.log,
    onBatch: (s) => {
      formatSummary(s).forEach((l) => o.print(l));
      monitor.batch(s);
      o.onBatch?.(s);
    },
    onConflict: (table) => monitor.conflict(table),
  });
}

/** The metrics, health and status server at `address` (null when it is off). */
async function startStatusServer(address: string, monitor: ConsumeMonitor, log: Logger): Promise<RunningServer | null> {
  const at = parseListenAddress(address);
  if (!at) return null;
  const server = await startHttpServer(at, statusRoutes(monitor), log);
  log.info(`metrics at ${server.url}/metrics, health at /livez and /readyz`);
  return server;
}

function statusRoutes(monitor: ConsumeMonitor): Routes {
  const json = (status: number, body: unknown) => ({
    status,
    contentType: 'application/json',
    body: JSON.stringify(body) + '\n',
  });
  return {
    '/metrics': async () => ({
      status: 200,
      contentType: monitor.registry.contentType,
      body: await monitor.registry.metrics(),
    }),
    '/livez': () => json(200, { live: true }),
    '/readyz': () => {
      const r = monitor.readiness();
      return json(r.ready ? 200 : 503, r);
    },
  };
}

/** The automatic maintenance the configuration asks for. */
export function maintenanceOptions(cfg: Readonly<Config>): Omit<MaintenanceOptions, 'log'> {
  return {
    compact: cfg.compact,
    minFiles: cfg.compactMinFiles,
    maxRewriteBytes: cfg.compactMaxRewriteBytes,
    vacuumEveryMs: cfg.vacuumEveryHours * 3_600_000,
    logCleanup: cfg.logCleanup,
  };
}

/**
 * Post batches are encoded by the native addon on libuv threads when it is
 * built, else on a pool of JavaScript workers; `workers: 0` encodes in this
 * thread. Other tables (dead letters) are encoded on a worker too, or here
 * when workers are not used.
 */
function chooseEncoders(cfg: Readonly<Config>, o: ConsumeOptions) {
  const { encoder, native, note } = choosePostBatchEncoder(cfg.encoder, cfg.workers, {
    threadPoolSize: o.threadPoolSize ?? 4,
    ownsProcess: true,
    onFallback: (reason) =>
      (reason.startsWith('addon error') ? o.log.warn : o.log.info).call(
        o.log,
        `a batch went to the JavaScript encoder (${reason}); the files are the same, only slower (said once per reason)`,
      ),
  });
  o.log.info(`encoding posts with the ${note}`);
  const tables = native || cfg.workers === 0 ? inlineEncoder : new WorkerEncoder();
  return { posts: encoder, tables, note };
}

/** The outage spool of this process (spool-2... when another process on this machine owns the first). */
async function claimSpool(cfg: Readonly<Config>, log: Logger): Promise<Spool> {
  const spool = await Spool.claim(cfg.spoolDir, { maxBytes: cfg.spoolMaxBytes });
  if (spool.requested !== nodePath.resolve(cfg.spoolDir)) {
    log.info(`another process on this machine owns the spool ${cfg.spoolDir}: this one uses ${spool.dir}`);
  }
  for (const b of spool.broken) {
    log.warn('a spool entry could not be read; it was set aside (renamed .broken) and is not replayed', {
      entry: b.name,
      error: b.error,
    });
  }
  if (spool.size > 0) {
    log.warn(`${spool.size} batch(es) from an earlier run wait in the spool at ${spool.dir}; they are committed first`);
  }
  return spool;
}

/** Join the consumer group, retrying with backoff (1 s doubling to 30 s) until it works or the service is stopped. */
async function startSource(
  source: KafkaSource,
  topics: string[],
  cfg: Readonly<Config>,
  o: ConsumeOptions,
): Promise<'started' | 'aborted'> {
  const aborted = new Promise<'aborted'>((resolve) =>
    o.signal?.addEventListener('abort', () => resolve('aborted'), { once: true }),
  );
  for (let delay = 1000; !o.signal?.aborted; delay = Math.min(30_000, delay * 2)) {
    try {
      return await Promise.race([source.start().then(() => 'started' as const), aborted]);
    } catch (err) {
      const f = classifyKafkaFailure(err);
      const advice = kafkaFailureAdvice(f, {
        side: 'consumer',
        brokers: cfg.kafkaBrokers,
        mechanism: cfg.kafkaSaslMechanism,
        user: cfg.creds.kafkaUser,
      });
      o.log.warn(`${advice}; retrying in ${delay} ms`, { topics: topics.join(','), error: f.detail.slice(0, 300) });
      await source.disconnect().catch(() => undefined);
      await sleep(delay, o.signal);
    }
  }
  return 'aborted';
}

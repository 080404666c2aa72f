/** CLI commands around ingestion: demo, generate, load. */
import type { PartitionBy } from '../reddit/time-partitions.ts';
import * as fs from 'node:fs';
import * as nodePath from 'node:path';
import * as zlib from 'node:zlib';
import { once } from 'node:events';
import { ReddStreamError } from '../errors.ts';
import { consoleLogger } from '../logger.ts';
import type { LoadProgress } from '../ingest/load.ts';
import { runLoad } from '../service/load.ts';
import { PostGenerator } from '../reddit/generate.ts';
import { normaliseSubreddit } from '../reddit/subreddit.ts';
import { runDemo } from '../service/demo.ts';
import { reachable, runKafkaDemo } from '../service/demo-kafka.ts';
import { configFrom, s3For } from './config.ts';
import { queryLines } from './query.ts';
import { ident } from '../query/duckdb.ts';

const out = (line: string) => process.stdout.write(line + '\n');

function subredditList(s: string): string[] {
  try {
    return s
      .split(',')
      .map((x) => x.trim())
      .filter(Boolean)
      .map(normaliseSubreddit);
  } catch (err) {
    throw new ReddStreamError('USAGE', (err as Error).message);
  }
}

interface DemoOptions {
  tableRoot: string;
  subreddits: string;
  posts: number;
  partitions: number;
  batchSize: number;
}

type DemoResult = { rows: number; commits: number; deadLetters: number; seconds: number; encoder?: string };

export async function demoCommand(opts: DemoOptions): Promise<void> {
  const subs = subredditList(opts.subreddits);
  const root = nodePath.resolve(opts.tableRoot);
  out(`reddit-stream demo: ${opts.posts} generated posts per subreddit for ${subs.map((s) => 'r/' + s).join(', ')}`);
  // Fed by Kafka when a broker answers at the configured address, else in-process.
  const cfg = configFrom({});
  const broker = await firstReachable(cfg.kafkaBrokers);
  const res = broker
    ? await demoThroughKafka(broker, cfg.kafkaBrokers, subs, root, opts)
    : await demoInProcess(cfg.kafkaBrokers, subs, root, opts);
  out('');
  out(
    `committed ${res.rows} posts in ${res.commits} commits (${res.deadLetters} dead letters) in ${res.seconds.toFixed(1)} s (${Math.round(res.rows / res.seconds)} posts/s; ${res.encoder ?? 'JavaScript encoder'})`,
  );
  out('');
  await printDemoQuery(root, subs);
  out('');
  printNextSteps(root, subs, opts.tableRoot);
}

/** The first of `brokers` that accepts a connection, or null (all are tried at once). */
async function firstReachable(brokers: string[]): Promise<string | null> {
  const answered = await Promise.all(brokers.map(async (b) => ((await reachable(b)) ? b : null)));
  return answered.find((b) => b !== null) ?? null;
}

async function demoThroughKafka(
  broker: string,
  brokers: string[],
  subs: string[],
  root: string,
  opts: DemoOptions,
): Promise<DemoResult> {
  out(
    `source: Kafka broker at ${broker} (kafka_host): publishing the generated posts to ${subs.map((s) => 'reddit_' + s).join(', ')}, then consuming them; tables under ${root}`,
  );
  out('');
  return runKafkaDemo({
    brokers,
    tableRoot: root,
    subreddits: subs,
    postsPerSubreddit: opts.posts,
    batchSize: opts.batchSize,
    log: consoleLogger('warn'),
    print: out,
  });
}

async function demoInProcess(brokers: string[], subs: string[], root: string, opts: DemoOptions): Promise<DemoResult> {
  out(
    `source: in-process generator (no Kafka broker answers at ${brokers.join(', ')}; topics ${subs.map((s) => 'reddit_' + s).join(', ')}, ${opts.partitions} partitions each); tables under ${root}`,
  );
  out('');
  return runDemo({
    tableRoot: root,
    subreddits: subs,
    postsPerSubreddit: opts.posts,
    partitions: opts.partitions,
    batchSize: opts.batchSize,
    group: 'reddit-stream-demo',
    log: consoleLogger('warn'),
    print: out,
  });
}

/** Posts, mean score and newest post per subreddit, read back from the tables with SQL. */
async function printDemoQuery(root: string, subs: string[]): Promise<void> {
  const sql = `SELECT subreddit, count(*) AS posts, round(avg(score), 1) AS avg_score, max(created_at) AS newest FROM (${subs.map((s) => `SELECT * FROM ${ident(s)}`).join(' UNION ALL ')}) GROUP BY subreddit ORDER BY posts DESC`;
  out(`query: ${sql}`);
  for (const line of await queryLines({ root, sql, format: 'table' })) out(line);
}

/** Where the tables are and commands to try on them (`tableRoot` as the user gave it). */
function printNextSteps(root: string, subs: string[], tableRoot: string): void {
  out(`tables: ${subs.map((s) => nodePath.join(root, s)).join(', ')}`);
  out(
    `try:    reddit-stream query --root ${tableRoot} 'SELECT title, score FROM ${ident(subs[0])} ORDER BY score DESC LIMIT 5'`,
  );
  out(`        reddit-stream history ${nodePath.join(tableRoot, subs[0])}`);
  out("run the demo again to add the next posts: the tables remember each partition's offset (exactly-once).");
}

export async function generateCommand(opts: {
  count: number;
  seed: number;
  subreddits?: string;
  out?: string;
}): Promise<void> {
  const gen = new PostGenerator({
    seed: opts.seed,
    subreddits: opts.subreddits ? subredditList(opts.subreddits) : undefined,
  });
  const file = opts.out ? fs.createWriteStream(opts.out) : null;
  const gz = opts.out?.endsWith('.gz') ? zlib.createGzip() : null;
  if (gz && file) gz.pipe(file);
  const sink: NodeJS.WritableStream = gz ?? file ?? process.stdout;
  for (let i = 0; i < opts.count; i++) {
    if (!sink.write(gen.nextJson() + '\n')) await once(sink, 'drain');
  }
  if (file) {
    sink.end();
    await once(file, 'close');
  }
}

function fmtProgress(p: LoadProgress): string {
  const s = p.elapsedMs / 1000;
  const rate = s > 0 ? Math.round(p.lines / s) : 0;
  const frac = p.totalBytes > 0 ? p.bytesRead / p.totalBytes : 0;
  const eta = frac > 0 && frac < 1 ? `, ETA ${Math.round(s / frac - s)} s` : '';
  return `${p.file}: ${p.lines} lines, ${p.posts} posts committed, ${p.skipped} skipped, ${p.deadLetters} dead letters, ${rate} lines/s, ${(p.bytesRead / 1e6).toFixed(1)}/${(p.totalBytes / 1e6).toFixed(1)} MB (${(frac * 100).toFixed(0)}%)${eta}`;
}

export async function loadCommand(
  files: string[],
  opts: { root?: string; table?: string; batchSize: number; unknownFields: 'keep' | 'drop'; partitionBy: PartitionBy },
): Promise<void> {
  if (!!opts.root === !!opts.table) {
    throw new ReddStreamError(
      'USAGE',
      'give exactly one of --root <dir> (one table per subreddit) or --table <dir> (one table)',
    );
  }
  for (const f of files) {
    if (!fs.existsSync(f)) throw new ReddStreamError('USAGE', `input file not found: ${f}`);
  }
  await runLoad({
    files,
    root: opts.root,
    table: opts.table,
    batchSize: opts.batchSize,
    unknownFields: opts.unknownFields,
    partitionBy: opts.partitionBy,
    s3For,
    log: consoleLogger('info'),
    onProgress: (p) => process.stderr.write(fmtProgress(p) + '\n'),
    onFile: (res) => out(`${fmtProgress(res)}; ${res.commits} commits into ${res.tables.length} table(s)`),
  });
}

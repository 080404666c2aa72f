/**
 * `reddit-stream demo`: the consumer's pipeline (normalise, batch, console
 * summary, Delta commit with txn offsets) fed by an in-process source of
 * generated posts, into local tables. Running it again continues where the
 * tables say it stopped (exactly-once), adding the next posts.
 */
import type { Logger } from '../logger.ts';
import { GeneratedPartition } from '../ingest/generated-source.ts';
import { choosePostBatchEncoder } from '../ingest/native-encoder.ts';
import { IngestPipeline, type SourceMessage } from '../ingest/pipeline.ts';
import { formatSummary } from '../ingest/summary.ts';
import { localTableRoot, TableCatalog } from '../ingest/tables.ts';
import { runLoop, type PollingSource } from './run-loop.ts';
import { garbageCollection } from '../os/requested-gc.ts';

export interface DemoOptions {
  tableRoot: string;
  subreddits: string[];
  /** Posts per subreddit added by this run. */
  postsPerSubreddit: number;
  partitions: number;
  batchSize: number;
  group: string;
  log: Logger;
  print: (line: string) => void;
}

export interface DemoResult {
  rows: number;
  commits: number;
  deadLetters: number;
  seconds: number;
  tables: string[];
  /** Which post encoder ran. */
  encoder?: string;
}

export async function runDemo(o: DemoOptions): Promise<DemoResult> {
  const catalog = new TableCatalog(localTableRoot(o.tableRoot), { log: o.log });
  // The same encoder choice as `consume` (native when built).
  const { encoder, note } = choosePostBatchEncoder('auto', undefined, {
    threadPoolSize: Number(process.env.UV_THREADPOOL_SIZE) || 4,
    ownsProcess: true,
  });
  o.log.info(`encoding posts with the ${note}`);
  const pipeline = new IngestPipeline({
    group: o.group,
    policy: { maxMessages: o.batchSize, maxBytes: 32 << 20, maxLatencyMs: 1000 },
    catalog,
    log: o.log,
    encoder,
    onBatch: (s) => formatSummary(s).forEach((l) => o.print(l)),
  });
  const parts: GeneratedPartition[] = [];
  const perPartition = Math.ceil(o.postsPerSubreddit / o.partitions);
  for (const sub of o.subreddits) {
    for (let p = 0; p < o.partitions; p++) {
      const topic = `reddit_${sub}`;
      const resume = (await pipeline.assign(topic, p)) ?? 0n;
      const gp = new GeneratedPartition(sub, p, resume + BigInt(perPartition));
      gp.seek(resume);
      parts.push(gp);
    }
  }
  let rr = 0;
  const source: PollingSource = {
    async poll(max) {
      const out: SourceMessage[] = [];
      for (let i = 0; i < parts.length && out.length < max; i++) {
        const gp = parts[(rr + i) % parts.length];
        out.push(...gp.poll(Math.min(250, max - out.length)));
      }
      rr++;
      return out;
    },
    seek(topic, partition, offset) {
      parts.find((x) => x.topic === topic && x.partition === partition)?.seek(offset ?? 0n);
    },
    exhausted: () => parts.every((x) => x.position >= x.end),
  };
  const t0 = performance.now();
  try {
    await runLoop({ pipeline, source, log: o.log, collectGarbage: garbageCollection() });
  } finally {
    await encoder.close?.();
  }
  return {
    rows: pipeline.totals.rows,
    commits: pipeline.totals.commits,
    deadLetters: pipeline.totals.deadLetters,
    seconds: (performance.now() - t0) / 1000,
    tables: o.subreddits,
    encoder: note,
  };
}

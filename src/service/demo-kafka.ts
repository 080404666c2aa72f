/**
 * The demo fed by a real Kafka broker when one is reachable at the
 * configured address: generated posts are published to `reddit_<sub>`, then
 * consumed by the same service as `reddit-stream consume`, until idle.
 */
import * as net from 'node:net';
import * as nodePath from 'node:path';
import { resolveConfig } from '../config/config.ts';
import { KafkaPostSink } from '../kafka/sink.ts';
import type { Logger } from '../logger.ts';
import { PostGenerator } from '../reddit/generate.ts';
import { runConsume } from './consume.ts';

/** True when something accepts TCP connections at host:port within `timeoutMs`. */
export function reachable(hostPort: string, timeoutMs = 500): Promise<boolean> {
  const i = hostPort.lastIndexOf(':');
  const host = hostPort.slice(0, i).replace(/^\[|\]$/g, '');
  const port = Number(hostPort.slice(i + 1));
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(timeoutMs, () => done(false));
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

export async function runKafkaDemo(o: {
  brokers: string[];
  tableRoot: string;
  subreddits: string[];
  postsPerSubreddit: number;
  batchSize: number;
  log: Logger;
  print: (l: string) => void;
}) {
  const sink = new KafkaPostSink({
    bootstrapBrokers: o.brokers,
    clientId: 'reddit-stream-demo',
    log: o.log,
    topicPartitions: 1,
  });
  try {
    for (const sub of o.subreddits) {
      const gen = new PostGenerator({ seed: Date.now() % 100_000, subreddits: [sub] });
      const posts = Array.from({ length: o.postsPerSubreddit }, () => {
        const p = gen.next();
        return { topic: `reddit_${sub}`, key: String(p.name), value: JSON.stringify(p) };
      });
      for (let i = 0; i < posts.length; i += 500) await sink.send(posts.slice(i, i + 500));
    }
  } finally {
    await sink.close();
  }
  const config = resolveConfig(
    [
      [
        'demo',
        {
          subreddit: o.subreddits,
          kafka_host: o.brokers.join(','),
          table_root: o.tableRoot,
          group_id: 'reddit-stream-demo',
          batch_size: o.batchSize,
          processing_interval: 1,
          spool_dir: nodePath.join(o.tableRoot, '.spool'),
          metrics_address: 'off',
        },
      ],
    ],
    [],
  );
  const t0 = performance.now();
  const r = await runConsume({ config, log: o.log, print: o.print, untilIdleSeconds: 2 });
  return {
    rows: r.rows,
    commits: r.commits,
    deadLetters: r.deadLetters,
    seconds: (performance.now() - t0) / 1000,
    encoder: r.encoder,
  };
}

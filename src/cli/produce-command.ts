/** `reddit-stream produce`: Reddit listings -> Kafka topics reddit_<subreddit>. */
import * as fs from 'node:fs';
import { hostname } from 'node:os';
import { kafkaConnection } from '../config/config.ts';
import { ReddStreamError } from '../errors.ts';
import { KafkaPostSink } from '../kafka/sink.ts';
import { consoleLogger } from '../logger.ts';
import { RedditClient, defaultUserAgent } from '../reddit/api/client.ts';
import { runProducer } from '../reddit/producer.ts';
import { configFrom, type ConfigFlags } from './config.ts';

type Flags = ConfigFlags & {
  state: string;
  maxCycles?: number;
  pollSeconds?: number;
  userAgent?: string;
  redditApiUrl?: string;
  redditAuthUrl?: string;
};

export async function produceCommand(f: Flags): Promise<void> {
  const cfg = configFrom(f);
  const log = consoleLogger(cfg.debug ? 'debug' : 'info');
  if (cfg.subreddits.length === 0) {
    throw new ReddStreamError(
      'CONFIG_INVALID',
      'no subreddits configured: list them under `subreddit:` in config.yaml, set `subreddit`, or pass --subreddits',
    );
  }
  const c = cfg.creds;
  if (!c.clientId || !c.secretId) {
    throw new ReddStreamError(
      'CONFIG_INVALID',
      'Reddit credentials missing: set client_id and secret_id in creds.json (plus user and password for a script app), or REDDIT_CLIENT_ID / REDDIT_SECRET_ID',
    );
  }
  const client = new RedditClient({
    credentials: { clientId: c.clientId, secret: c.secretId, user: c.user, password: c.password },
    userAgent: f.userAgent ?? defaultUserAgent('reddit-stream', '0.1.0', c.user),
    apiBaseUrl: f.redditApiUrl,
    authBaseUrl: f.redditAuthUrl,
    log,
  });
  const sink = new KafkaPostSink({
    bootstrapBrokers: cfg.kafkaBrokers,
    clientId: `reddit-stream-producer-${hostname()}`,
    log,
    connection: kafkaConnection(cfg, (p) => fs.readFileSync(p, 'utf8')),
  });
  const controller = new AbortController();
  let signals = 0;
  const onSignal = () => {
    if (++signals > 1) process.exit(130);
    log.info('stopping after the current cycle (send again to exit at once; the state file makes a restart exact)');
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const r = await runProducer({
      subreddits: cfg.subreddits,
      postType: cfg.postType,
      client,
      sink,
      statePath: f.state,
      log,
      print: (l) => process.stdout.write(l + '\n'),
      signal: controller.signal,
      maxCycles: f.maxCycles,
      pollSeconds: f.pollSeconds,
    });
    log.info('producer stopped', { cycles: r.cycles, posts_sent: r.sent, requests: client.requests });
  } finally {
    await sink.close();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

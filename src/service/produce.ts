/**
 * `reddit-stream produce`: Reddit listings -> Kafka topics `reddit_<sub>`.
 * Wires the Reddit API client and the Kafka sink into the producer loop
 * (reddit/producer.ts), which keeps the state file and the exactly-once
 * hand-over after crashes.
 */
import * as fs from 'node:fs';
import { hostname } from 'node:os';
import { kafkaConnection, requireSubreddits, type Config } from '../config/config.ts';
import { ReddStreamError } from '../errors.ts';
import { KafkaPostSink } from '../kafka/sink.ts';
import type { Logger } from '../logger.ts';
import { RedditClient, defaultUserAgent } from '../reddit/api/client.ts';
import { runProducer } from '../reddit/producer.ts';
import { PRODUCT, VERSION } from '../version.ts';

export interface ProduceOptions {
  config: Readonly<Config>;
  log: Logger;
  print: (line: string) => void;
  signal?: AbortSignal;
  statePath: string;
  maxCycles?: number;
  pollSeconds?: number;
  userAgent?: string;
  /** Other Reddit endpoints (tests replay recorded answers). */
  redditApiUrl?: string;
  redditAuthUrl?: string;
}

export async function runProduce(o: ProduceOptions): Promise<{ cycles: number; sent: number; requests: number }> {
  const cfg = o.config;
  requireSubreddits(cfg);
  const c = cfg.creds;
  if (!c.clientId || !c.secretId) {
    throw new ReddStreamError(
      'CONFIG_INVALID',
      'Reddit credentials missing: set client_id and secret_id in creds.json (plus user and password for a script app), or REDDIT_CLIENT_ID / REDDIT_SECRET_ID',
    );
  }
  const client = new RedditClient({
    credentials: { clientId: c.clientId, secret: c.secretId, user: c.user, password: c.password },
    userAgent: o.userAgent ?? defaultUserAgent(PRODUCT, VERSION, c.user),
    apiBaseUrl: o.redditApiUrl,
    authBaseUrl: o.redditAuthUrl,
    log: o.log,
  });
  const sink = new KafkaPostSink({
    bootstrapBrokers: cfg.kafkaBrokers,
    clientId: `${PRODUCT}-producer-${hostname()}`,
    log: o.log,
    connection: kafkaConnection(cfg, (p) => fs.readFileSync(p, 'utf8')),
  });
  try {
    const r = await runProducer({
      subreddits: cfg.subreddits,
      postType: cfg.postType,
      client,
      sink,
      statePath: o.statePath,
      log: o.log,
      print: o.print,
      signal: o.signal,
      maxCycles: o.maxCycles,
      pollSeconds: o.pollSeconds,
    });
    return { ...r, requests: client.requests };
  } finally {
    await sink.close();
  }
}

/**
 * `consume`'s metrics and health endpoints on a real broker: during and
 * after a run, `/metrics` agrees with what the tables hold (rows, dead
 * letters) and lag reaches 0; `/readyz` turns 503 while the broker is
 * stopped and 200 again after it restarts; `/livez` stays 200; bad requests
 * to the server do not disturb ingestion; no secret appears.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readAllRows } from '../../src/delta/scan.ts';
import { loadSnapshot } from '../../src/delta/snapshot.ts';
import { LocalObjectStore } from '../../src/storage/local.ts';
import { statusLines, type StatusReport } from '../../src/cli/status.ts';
import { topicEndOffsets } from '../../src/kafka/end-offsets.ts';
import { createTopics, generatedMessages, produce, startBroker, startConsume, type Broker } from '../helpers/kafka.ts';

let broker: Broker;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rs-metrics-e2e-'));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function rows(table: string, column = 'id'): Promise<number> {
  if (!fs.existsSync(path.join(table, '_delta_log'))) return 0;
  return (await readAllRows(await loadSnapshot(new LocalObjectStore(table)), { columns: [column] })).length;
}

/** Samples of one metric in a Prometheus text scrape: labels as text -> value. */
function samples(text: string, name: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = new RegExp(`^${name}(\\{[^}]*\\})? (\\S+)$`).exec(line);
    if (m) out.set(m[1] ?? '', Number(m[2]));
  }
  return out;
}
const sum = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);

async function until<T>(what: string, ms: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(250);
  }
}

describe('consume metrics and health (real broker)', { timeout: 300_000 }, () => {
  before(async () => {
    broker = await startBroker({ partitions: 2 });
  });
  after(async () => {
    await broker?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('/metrics equals the tables; lag reaches 0; /readyz follows the broker; /livez stays up', async () => {
    await createTopics(broker.bootstrap, ['reddit_watched'], 2);
    const good = generatedMessages('reddit_watched', 3000, 2, 7);
    const bad = [
      { topic: 'reddit_watched', partition: 0, key: 'b1', value: '{not json' },
      { topic: 'reddit_watched', partition: 1, key: 'b2', value: '[1, 2]' },
      { topic: 'reddit_watched', partition: 1, key: 'b3', value: '{"title": "no id"}' },
    ];
    await produce(broker.bootstrap, [...good.slice(0, 1500), ...bad, ...good.slice(1500)], 500);
    const root = path.join(dir, 'lake');
    fs.mkdirSync(root);
    const args = ['--kafka-host', broker.bootstrap, '--subreddits', 'watched', '--table-root', root];
    const run = startConsume([...args, '--group-id', 'g-metrics', '--processing-interval', '0.5'], root, {
      REDDIT_STREAM_METRICS_ADDRESS: '127.0.0.1:0',
      AWS_SECRET_ACCESS_KEY: 'hunter2-secret',
    });
    const base = await until(
      'the metrics address in the log',
      60_000,
      async () => /metrics at (http:\/\/[^\s/]+)\/metrics/.exec(run.stderr())?.[1],
    );
    const scrape = async () => (await fetch(`${base}/metrics`)).text();

    // Bad requests while ingesting: refused, nothing else changes.
    assert.equal((await fetch(`${base}/nope`)).status, 404);
    assert.equal((await fetch(`${base}/metrics`, { method: 'DELETE' })).status, 405);

    const done = await until('every message committed and lag 0', 120_000, async () => {
      const text = await scrape();
      const committed = sum(samples(text, 'reddit_stream_rows_committed_total'));
      const lag = samples(text, 'reddit_stream_lag_messages');
      return committed === 3000 && lag.size === 2 && sum(lag) === 0 ? text : undefined;
    });
    assert.equal(await rows(path.join(root, 'watched')), 3000);
    assert.equal(sum(samples(done, 'reddit_stream_messages_received_total')), 3003);
    const dead = samples(done, 'reddit_stream_dead_letters_total');
    assert.deepEqual([...dead].sort(), [
      ['{table="watched",reason="invalid_id"}', 1],
      ['{table="watched",reason="invalid_json"}', 1],
      ['{table="watched",reason="not_an_object"}', 1],
    ]);
    assert.equal(await rows(path.join(root, '_dead_letters'), 'offset'), 3);
    assert.ok(sum(samples(done, 'reddit_stream_commits_total')) >= 1);
    assert.ok(samples(done, 'reddit_stream_flush_duration_seconds_count').size === 1);
    assert.ok(sum(samples(done, 'reddit_stream_lag_seconds')) === 0, 'nothing pending');
    assert.ok(samples(done, 'process_cpu_seconds_total').size === 1, 'default process metrics');
    assert.ok(samples(done, 'kafka_consumed_messages').size >= 1, "the Kafka client's own metrics");
    assert.doesNotMatch(done, /hunter2/);

    const ready = await until('ready', 30_000, async () => {
      const r = await fetch(`${base}/readyz`);
      return r.status === 200 ? r.json() : undefined;
    });
    assert.deepEqual(ready, { ready: true, reasons: [] });

    await broker.stop();
    const notReady = (await until('503 while the broker is down', 60_000, async () => {
      const r = await fetch(`${base}/readyz`);
      return r.status === 503 ? r.json() : undefined;
    })) as { ready: boolean; reasons: string[] };
    assert.equal(notReady.ready, false);
    assert.match(notReady.reasons.join('\n'), /Kafka is not reachable/);
    assert.equal((await fetch(`${base}/livez`)).status, 200, 'alive while Kafka is down');

    await broker.start();
    await until('ready again after the broker restarts', 90_000, async () =>
      (await fetch(`${base}/readyz`)).status === 200 ? true : undefined,
    );
    await produce(broker.bootstrap, generatedMessages('reddit_watched', 200, 2, 8), 100);
    await until('the new posts counted', 60_000, async () =>
      sum(samples(await scrape(), 'reddit_stream_rows_committed_total')) === 3200 ? true : undefined,
    );
    run.child.kill('SIGTERM');
    const res = await run.done;
    assert.equal(res.code, 0, res.stderr.slice(-2000));
    assert.equal(await rows(path.join(root, 'watched')), 3200);
    assert.doesNotMatch(res.stderr + res.stdout, /hunter2/);

    // `status` reads the same positions from the tables, and the lag from the broker.
    const report = JSON.parse(
      (await statusLines({ root, kafkaHost: broker.bootstrap, format: 'json' })).join('\n'),
    ) as StatusReport;
    const watched = report.tables.find((t) => t.table === 'watched')!;
    assert.equal(watched.rows, 3200);
    assert.equal(report.lagNote, null);
    const ends = await topicEndOffsets([broker.bootstrap], ['reddit_watched']);
    assert.deepEqual(
      watched.positions.map((p) => [p.group, p.topic, p.partition, p.offset + 1, p.lag]),
      [0, 1].map((p) => ['g-metrics', 'reddit_watched', p, Number(ends.get('reddit_watched')![p]), 0]),
    );
    const text = await statusLines({ root, format: 'text' });
    assert.match(text[0], /^_dead_letters: version \d+, 3 rows/);
    assert.ok(text.some((l) => /^watched: version \d+, 3200 rows, \d+ files \(\d+ small\)/.test(l)));
    assert.ok(text.includes(`  g-metrics reddit_watched[0] at offset ${watched.positions[0].offset}`));
    assert.equal(text.at(-1), 'lag: no broker asked (give --kafka-host)');
    const unreachable = await statusLines({ root, kafkaHost: '127.0.0.1:1', format: 'text' });
    assert.match(unreachable.at(-1)!, /^lag unknown: Kafka did not answer/);
  });
});

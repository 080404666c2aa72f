/**
 * `reddit-stream consume` against a real Apache Kafka broker (KRaft, started
 * by the test from Maven Central jars): exact results, kill -9 recovery,
 * consumer groups, dead letters, broker restarts.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { readAllRows } from '../../src/delta/scan.ts';
import { loadSnapshot } from '../../src/delta/snapshot.ts';
import { LocalObjectStore } from '../../src/storage/local.ts';
import { DeltaTable } from '../../src/delta/table.ts';
import { field, struct } from '../../src/delta/schema.ts';
import { IngestPipeline } from '../../src/ingest/pipeline.ts';
import { localTableRoot, TableCatalog } from '../../src/ingest/tables.ts';
import { KafkaSource } from '../../src/kafka/source.ts';
import { silentLogger } from '../../src/logger.ts';
import { Admin } from '@platformatic/kafka';
import { SHARED } from '../helpers/fixtures.ts';
import {
  createTopics,
  generatedMessages,
  produce,
  startBroker,
  startConsume,
  type Broker,
  type OutMessage,
} from '../helpers/kafka.ts';

let broker: Broker;
const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'rs-kafka-e2e-'));

async function ids(dir: string): Promise<string[]> {
  if (!fs.existsSync(path.join(dir, '_delta_log'))) return [];
  return (await readAllRows(await loadSnapshot(new LocalObjectStore(dir)), { columns: ['id'] })).map(
    (r) => r.id as string,
  );
}

const baseArgs = (root: string, subs: string, group: string) => [
  '--kafka-host',
  broker.bootstrap,
  '--subreddits',
  subs,
  '--table-root',
  root,
  '--group-id',
  group,
  '--processing-interval',
  '0.5',
];

describe('consume (real Kafka broker)', { timeout: 600_000 }, () => {
  before(async () => {
    broker = await startBroker({ partitions: 3 });
  });
  after(async () => {
    await broker?.stop();
  });

  it('5,000 real posts over 2 topics x 3 partitions end in 2 tables with exactly those ids', async () => {
    const all = zlib
      .gunzipSync(fs.readFileSync(path.join(SHARED, 'fixtures/reddit/posts-all.ndjson.gz')))
      .toString('utf8')
      .split('\n')
      .filter(Boolean);
    const posts = all.slice(0, 5000);
    await createTopics(broker.bootstrap, ['reddit_alpha', 'reddit_beta'], 3);
    const msgs: OutMessage[] = posts.map((line, i) => ({
      topic: i % 2 ? 'reddit_beta' : 'reddit_alpha',
      partition: Math.floor(i / 2) % 3,
      key: JSON.parse(line).name,
      value: line,
    }));
    await produce(broker.bootstrap, msgs);
    const root = tmp();
    const run = startConsume([...baseArgs(root, 'alpha,beta', 'g-exact'), '--until-idle', '3'], root);
    const res = await run.done;
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, /^batch alpha v\d+: \d+ posts/m);
    for (const [table, want] of [
      ['alpha', msgs.filter((m) => m.topic === 'reddit_alpha')],
      ['beta', msgs.filter((m) => m.topic === 'reddit_beta')],
    ] as const) {
      const got = await ids(path.join(root, table));
      const expected = want.map((m) => JSON.parse(m.value as string).id);
      assert.equal(got.length, expected.length, table);
      assert.deepEqual(got.sort(), expected.sort(), table);
      const snap = await loadSnapshot(new LocalObjectStore(path.join(root, table)));
      for (let p = 0; p < 3; p++) {
        const n = want.filter((m) => m.partition === p).length;
        assert.equal(snap.txnVersion(`g-exact-reddit_${table}-${p}`), n - 1, `${table} partition ${p} txn`);
      }
    }
    // Kafka's committed offsets mirror the tables, so standard lag tools work.
    const admin = new Admin({ clientId: 'test-lag', bootstrapBrokers: [broker.bootstrap] });
    try {
      const groups = await admin.listConsumerGroupOffsets({ groups: ['g-exact'] });
      const committed = new Map<string, bigint>();
      for (const t of groups[0].topics) {
        for (const p of t.partitions) committed.set(`${t.name}:${p.partitionIndex}`, p.committedOffset);
      }
      for (const topic of ['reddit_alpha', 'reddit_beta']) {
        for (let p = 0; p < 3; p++) {
          assert.equal(
            committed.get(`${topic}:${p}`),
            BigInt(msgs.filter((m) => m.topic === topic && m.partition === p).length),
            `${topic}:${p}`,
          );
        }
      }
    } finally {
      await admin.close();
    }
  });

  it('kill -9 at random moments 5 times while ingesting: 0 lost, 0 duplicated', async () => {
    await createTopics(broker.bootstrap, ['reddit_crashy'], 3);
    const msgs = generatedMessages('reddit_crashy', 30_000, 3, 11);
    await produce(broker.bootstrap, msgs, 1000);
    const root = tmp();
    const table = path.join(root, 'crashy');
    let killedMidway = 0;
    for (let k = 0; k < 5; k++) {
      const run = startConsume([...baseArgs(root, 'crashy', 'g-crash'), '--batch-size', '700'], root);
      const before = (await ids(table)).length;
      // wait for progress beyond what was there, then kill at a random moment
      const deadline = Date.now() + 60_000;
      while (
        Date.now() < deadline &&
        (await ids(table).catch(() => [])).length <= before &&
        run.child.exitCode === null
      ) {
        await new Promise((r) => setTimeout(r, 100));
      }
      await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 400)));
      run.child.kill('SIGKILL');
      const res = await run.done;
      if (res.signal === 'SIGKILL') killedMidway++;
      const now = await ids(table);
      assert.equal(new Set(now).size, now.length, `no duplicates after kill ${k + 1}`);
    }
    assert.equal(killedMidway, 5);
    const final = startConsume([...baseArgs(root, 'crashy', 'g-crash'), '--until-idle', '3'], root);
    const res = await final.done;
    assert.equal(res.code, 0, res.stderr);
    const got = await ids(table);
    assert.equal(got.length, 30_000);
    assert.equal(new Set(got).size, 30_000);
  });

  const encoders: Array<{ name: string; topic: string; env: Record<string, string>; log: RegExp }> = [
    { name: 'native encoder', topic: 'reddit_messy', env: {}, log: /encoding posts with the native encoder/ },
    {
      name: 'JavaScript on workers',
      topic: 'reddit_messy_js',
      env: { REDDIT_STREAM_ENCODER: 'js' },
      log: /encoding posts with the JavaScript encoder \(encoder: js\)/,
    },
    {
      name: 'JavaScript inline, workers: 0',
      topic: 'reddit_messy_inline',
      env: { REDDIT_STREAM_ENCODER: 'js', REDDIT_STREAM_WORKERS: '0' },
      log: /JavaScript encoder/,
    },
  ];
  for (const mode of encoders) {
    it(`bad messages land in dead letters; every good message lands (${mode.name})`, async () => {
      const topic = mode.topic;
      const sub = topic.slice('reddit_'.length);
      await createTopics(broker.bootstrap, [topic], 1);
      const good = generatedMessages(topic, 50, 1, 21);
      const bad: OutMessage[] = [
        { topic, partition: 0, key: 'k1', value: '{not json' },
        { topic, partition: 0, key: 'k2', value: '[1,2,3]' },
        { topic, partition: 0, key: 'k3', value: '{"title": "no id"}' },
        { topic, partition: 0, key: 'k4', value: JSON.stringify({ id: 'big', selftext: 'x'.repeat(5 * 1024 * 1024) }) },
        { topic, partition: 0, key: 'k5', value: '{"id": "proto1", "__proto__": {"polluted": true}, "title": "fine"}' },
        {
          topic,
          partition: 0,
          key: 'k6',
          value: `{"id": "deep", "media": ${'['.repeat(10_000)}${']'.repeat(10_000)}}`,
        },
      ];
      const msgs = [...good.slice(0, 20), ...bad, ...good.slice(20)];
      // Good, but only JavaScript keeps the sign of -0: a table of its own, so
      // the native encoder hands over that table's batch and no other.
      const signed = `${topic}_signed`;
      await createTopics(broker.bootstrap, [signed], 1);
      msgs.push({
        topic: signed,
        partition: 0,
        key: 'k7',
        value: '{"id": "negzero", "upvote_ratio": -0.0, "title": "fine"}',
      });
      await produce(broker.bootstrap, msgs, 10);
      const root = tmp();
      const run = startConsume(
        [...baseArgs(root, `${sub},${sub}_signed`, `g-${sub}`), '--until-idle', '3'],
        root,
        mode.env,
      );
      const res = await run.done;
      assert.equal(res.code, 0, res.stderr);
      assert.match(res.stderr, mode.log);
      if (mode.name === 'native encoder') {
        // Every batch of the messy table, dead letters included, was encoded natively.
        assert.match(res.stderr, /a batch went to the JavaScript encoder \(a negative zero\)/);
        assert.match(
          res.stderr,
          /native encoder: [1-9]\d* job\(s\) encoded natively, 1 by JavaScript \(a negative zero: 1\)/,
        );
      }
      assert.deepEqual(await ids(path.join(root, `${sub}_signed`)), ['negzero']);
      const got = await ids(path.join(root, sub));
      assert.deepEqual(got.sort(), [...good.map((m) => JSON.parse(m.value as string).id), 'proto1'].sort());
      const dead = await readAllRows(await loadSnapshot(new LocalObjectStore(path.join(root, '_dead_letters'))));
      assert.deepEqual(
        dead.map((d) => d.offset).sort((a: any, b: any) => Number(a - b)),
        [20n, 21n, 22n, 23n, 25n],
      );
      const reasons = dead.map((d) => d.error as string).join('\n');
      assert.match(reasons, /JSON nested deeper than 64 levels/);
      assert.match(reasons, /invalid JSON/);
      assert.match(reasons, /not a JSON object/);
      assert.match(reasons, /has no "id"/);
      assert.match(reasons, /too large/);
      assert.equal(new TextDecoder().decode(dead.find((d) => d.offset === 20n)!.key as Uint8Array), 'k1');
    });
  }

  it('two consumers in one group split the partitions; stopping one hands its partitions over exactly', async () => {
    await createTopics(broker.bootstrap, ['reddit_shared'], 4);
    const root = tmp();
    const table = path.join(root, 'shared');
    const lastAssignment = (text: string) =>
      [...text.matchAll(/partition assignment changed .*?assigned=(\S+)/g)].pop()?.[1] ?? '';
    const a = startConsume([...baseArgs(root, 'shared', 'g-pair'), '--batch-size', '500'], root);
    const waitFor = async (what: string, cond: () => boolean | Promise<boolean>) => {
      const deadline = Date.now() + 90_000;
      while (Date.now() < deadline) {
        if (await cond()) return;
        await new Promise((r) => setTimeout(r, 200));
      }
      assert.fail(
        `timed out waiting for ${what}\n--- a ---\n${a.stderr().slice(-2000)}\n--- b ---\n${b?.stderr().slice(-2000) ?? ''}`,
      );
    };
    // eslint-disable-next-line prefer-const -- assigned once, after the first wait, whose failure message reads it
    let b: ReturnType<typeof startConsume> | undefined;
    await waitFor('a to own all partitions', () => lastAssignment(a.stderr()).split(',').length === 4);
    b = startConsume([...baseArgs(root, 'shared', 'g-pair'), '--batch-size', '500'], root);
    await waitFor('the group to split the partitions', () => {
      const pa = lastAssignment(a.stderr()).split(',').filter(Boolean);
      const pb = lastAssignment(b.stderr()).split(',').filter(Boolean);
      return pa.length > 0 && pb.length > 0 && pa.length + pb.length === 4 && !pa.some((x) => pb.includes(x));
    });
    const first = generatedMessages('reddit_shared', 8000, 4, 31);
    await produce(broker.bootstrap, first, 1000);
    await waitFor('8000 rows', async () => (await ids(table).catch(() => [])).length >= 8000);
    // both consumers committed their own partitions
    assert.match(a.stderr(), /partition assignment changed/);
    // stop a gracefully; b takes over its partitions; more messages arrive
    a.child.kill('SIGTERM');
    const ra = await a.done;
    assert.equal(ra.code, 0, ra.stderr);
    await waitFor('b to own all partitions', () => lastAssignment(b.stderr()).split(',').length === 4);
    const second = generatedMessages('reddit_shared', 4000, 4, 32);
    await produce(broker.bootstrap, second, 1000);
    await waitFor('12000 rows', async () => (await ids(table).catch(() => [])).length >= 12000);
    b.child.kill('SIGTERM');
    const rb = await b.done;
    assert.equal(rb.code, 0, rb.stderr);
    const got = await ids(table);
    assert.equal(got.length, 12000);
    assert.equal(new Set(got).size, 12000);
    assert.match(ra.stdout, /^batch shared v\d+/m, 'a committed batches');
    assert.match(rb.stdout, /^batch shared v\d+/m, 'b committed batches');
  });

  it('a table that cannot hold posts stops only its own topic; --until-idle then exits 1 naming it', async () => {
    await createTopics(broker.bootstrap, ['reddit_fine', 'reddit_wrong'], 3);
    const root = tmp();
    // A table "written by another tool": score is text.
    await DeltaTable.create(new LocalObjectStore(path.join(root, 'wrong')), {
      schema: struct([field('id', 'string'), field('score', 'string')]),
    });
    const fine = generatedMessages('reddit_fine', 3000, 3, 51);
    await produce(broker.bootstrap, [...fine, ...generatedMessages('reddit_wrong', 300, 3, 52)], 1000);
    const res = await startConsume([...baseArgs(root, 'fine,wrong', 'g-wrong'), '--until-idle', '3'], root).done;
    assert.equal(res.code, 1, res.stderr.slice(-2000));
    assert.match(res.stderr, /cannot consume reddit_wrong partition \d until its table is fixed/);
    assert.match(
      res.stderr,
      /3 partition\(s\) were not consumed because their table needs fixing \(reddit_wrong\/\d, reddit_wrong\/\d, reddit_wrong\/\d\).*score is string in the table/,
    );
    const got = await ids(path.join(root, 'fine'));
    assert.deepEqual(got.sort(), fine.map((m) => JSON.parse(m.value as string).id).sort());
  });

  it('a partition handed to another consumer and back before anything was committed is read again from its start', async () => {
    // In-process consumers (source + pipeline) with flushes held back, so
    // nothing is committed while the partition moves: the second owner leaves
    // without committing, and the first must not resume where its stream was.
    const topic = 'reddit_handback';
    await createTopics(broker.bootstrap, [topic], 2);
    const root = tmp();
    const posts = (from: number, to: number) =>
      [0, 1].flatMap((p) =>
        Array.from({ length: to - from }, (_, i) => ({
          topic,
          partition: p,
          key: `k${p}-${from + i}`,
          value: JSON.stringify({
            id: `p${p}-${from + i}`,
            subreddit: 'handback',
            title: 't',
            created_utc: 1_700_000_000 + i,
          }),
        })),
      );
    await produce(broker.bootstrap, posts(0, 20));
    const consumer = (name: string) => {
      const pipeline = new IngestPipeline({
        group: 'g-handback',
        policy: { maxMessages: 100_000, maxBytes: 1 << 30, maxLatencyMs: 600_000 },
        catalog: new TableCatalog(localTableRoot(root), { log: silentLogger }),
        log: silentLogger,
      });
      const source = new KafkaSource({
        bootstrapBrokers: [broker.bootstrap],
        groupId: 'g-handback',
        clientId: name,
        topics: [topic],
        autoOffsetReset: 'earliest',
        owner: pipeline,
        log: silentLogger,
      });
      const c = { pipeline, source, stop: false, loop: Promise.resolve() };
      c.loop = (async () => {
        await source.start();
        while (!c.stop) {
          for (const msg of await source.poll(1000)) pipeline.push(msg);
          await new Promise((r) => setTimeout(r, 20));
        }
      })();
      return c;
    };
    const until = async (what: string, cond: () => boolean) => {
      const deadline = Date.now() + 60_000;
      while (!cond()) {
        if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    const owned = (c: { source: KafkaSource }) => (c.source as unknown as { assignment: Set<string> }).assignment.size;
    const a = consumer('a');
    await until('a to buffer offsets 0-19 of both partitions', () => a.pipeline.buffered() === 40);
    const b = consumer('b');
    await until('the group to split the partitions', () => owned(a) === 1 && owned(b) === 1);
    await until('b to buffer its partition', () => b.pipeline.buffered() === 20);
    b.stop = true;
    await b.loop;
    await b.source.close(); // leaves without committing
    await until('a to own both partitions again', () => owned(a) === 2);
    await produce(broker.bootstrap, posts(20, 25));
    await until('a to buffer all 50', () => a.pipeline.buffered() === 50);
    a.stop = true;
    await a.loop;
    await a.pipeline.flushAll();
    await a.source.close();
    const got = (await ids(path.join(root, 'handback'))).sort();
    assert.deepEqual(
      got,
      posts(0, 25)
        .map((x) => JSON.parse(x.value).id)
        .sort(),
    );
  });

  it('broker stopped and restarted mid-ingest: consumption resumes by itself, exact result', async () => {
    await createTopics(broker.bootstrap, ['reddit_outage'], 3);
    const first = generatedMessages('reddit_outage', 6000, 3, 41);
    await produce(broker.bootstrap, first, 1000);
    const root = tmp();
    const table = path.join(root, 'outage');
    const run = startConsume([...baseArgs(root, 'outage', 'g-outage'), '--batch-size', '500'], root);
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline && (await ids(table).catch(() => [])).length === 0) {
      await new Promise((r) => setTimeout(r, 100));
    }
    await broker.stop();
    await new Promise((r) => setTimeout(r, 3000));
    await broker.start();
    const second = generatedMessages('reddit_outage', 3000, 3, 42);
    await produce(broker.bootstrap, second, 1000);
    const deadline2 = Date.now() + 120_000;
    while (Date.now() < deadline2 && (await ids(table).catch(() => [])).length < 9000) {
      await new Promise((r) => setTimeout(r, 250));
    }
    run.child.kill('SIGTERM');
    const res = await run.done;
    assert.equal(res.code, 0, res.stderr.slice(-3000));
    const got = await ids(table);
    assert.match(res.stderr, /lost the connection to a Kafka broker/);
    assert.match(res.stderr, /reconnected to Kafka broker/);
    assert.equal(got.length, 9000, res.stderr.slice(-3000));
    assert.equal(new Set(got).size, 9000);
  });
});

describe('consume failure messages', { timeout: 120_000 }, () => {
  it('an unreachable broker is retried with a clear message, and SIGTERM still exits 0 promptly', async () => {
    const root = tmp();
    const run = startConsume(['--kafka-host', '127.0.0.1:1', '--subreddits', 'nowhere', '--table-root', root], root);
    after(() => {
      run.child.kill('SIGKILL');
    }); // never leave it running when an assertion fails
    const deadline = Date.now() + 60_000;
    let stderr = '';
    run.child.stderr!.on('data', (d) => (stderr += d));
    while (Date.now() < deadline && !/cannot reach Kafka at 127\.0\.0\.1:1/.test(stderr)) {
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.match(
      stderr,
      /cannot reach Kafka at 127\.0\.0\.1:1 \(is the broker running\? is kafka_host right\? does kafka_security_protocol match the listener\?\); retrying in \d+ ms/,
    );
    assert.match(stderr, /error="[^"]*ECONNREFUSED 127\.0\.0\.1:1"/, 'the root cause, not only the wrapper');
    run.child.kill('SIGTERM');
    const res = await run.done;
    assert.equal(res.code, 0);
  });

  it('no subreddits configured is one clear error', async () => {
    const root = tmp();
    const res = await startConsume(['--kafka-host', '127.0.0.1:1', '--table-root', root], root).done;
    assert.equal(res.code, 1);
    assert.match(res.stderr, /no subreddits configured/);
  });
});

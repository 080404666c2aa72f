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
import { PostGenerator } from '../../src/reddit/generate.ts';
import { LocalObjectStore } from '../../src/storage/local.ts';
import { SHARED } from '../helpers/fixtures.ts';
import { createTopics, produce, startBroker, startConsume, type Broker, type OutMessage } from '../helpers/kafka.ts';

let broker: Broker;
const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'rs-kafka-e2e-'));

async function ids(dir: string): Promise<string[]> {
  if (!fs.existsSync(path.join(dir, '_delta_log'))) return [];
  return (await readAllRows(await loadSnapshot(new LocalObjectStore(dir)), { columns: ['id'] })).map((r) => r.id as string);
}

function generated(topic: string, n: number, partitions: number, seed: number): OutMessage[] {
  const g = new PostGenerator({ seed, subreddits: [topic.replace('reddit_', '')] });
  return Array.from({ length: n }, (_, i) => {
    const p = g.next();
    return { topic, partition: i % partitions, key: String(p.name), value: JSON.stringify(p) };
  });
}

const baseArgs = (root: string, subs: string, group: string) => ['--kafka-host', broker.bootstrap, '--subreddits', subs, '--table-root', root, '--group-id', group, '--processing-interval', '0.5'];

describe('consume (real Kafka broker)', { timeout: 600_000 }, () => {
  before(async () => {
    broker = await startBroker({ partitions: 3 });
  });
  after(async () => {
    await broker?.stop();
  });

  it('5,000 real posts over 2 topics x 3 partitions end in 2 tables with exactly those ids', async () => {
    const all = zlib.gunzipSync(fs.readFileSync(path.join(SHARED, 'fixtures/reddit/posts-all.ndjson.gz'))).toString('utf8').split('\n').filter(Boolean);
    const posts = all.slice(0, 5000);
    await createTopics(broker.bootstrap, ['reddit_alpha', 'reddit_beta'], 3);
    const msgs: OutMessage[] = posts.map((line, i) => ({ topic: i % 2 ? 'reddit_beta' : 'reddit_alpha', partition: Math.floor(i / 2) % 3, key: JSON.parse(line).name, value: line }));
    await produce(broker.bootstrap, msgs);
    const root = tmp();
    const run = startConsume([...baseArgs(root, 'alpha,beta', 'g-exact'), '--until-idle', '3'], root);
    const res = await run.done;
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, /^batch alpha v\d+: \d+ posts/m);
    for (const [table, want] of [['alpha', msgs.filter((m) => m.topic === 'reddit_alpha')], ['beta', msgs.filter((m) => m.topic === 'reddit_beta')]] as const) {
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
  });

  it('kill -9 at random moments 5 times while ingesting: 0 lost, 0 duplicated', async () => {
    await createTopics(broker.bootstrap, ['reddit_crashy'], 3);
    const msgs = generated('reddit_crashy', 30_000, 3, 11);
    await produce(broker.bootstrap, msgs, 1000);
    const root = tmp();
    const table = path.join(root, 'crashy');
    let killedMidway = 0;
    for (let k = 0; k < 5; k++) {
      const run = startConsume([...baseArgs(root, 'crashy', 'g-crash'), '--batch-size', '700'], root);
      const before = (await ids(table)).length;
      // wait for progress beyond what was there, then kill at a random moment
      const deadline = Date.now() + 60_000;
      while (Date.now() < deadline && (await ids(table).catch(() => [])).length <= before && run.child.exitCode === null) await new Promise((r) => setTimeout(r, 100));
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

  it('bad messages land in dead letters; every good message lands', async () => {
    await createTopics(broker.bootstrap, ['reddit_messy'], 1);
    const good = generated('reddit_messy', 50, 1, 21);
    const bad: OutMessage[] = [
      { topic: 'reddit_messy', partition: 0, key: 'k1', value: '{not json' },
      { topic: 'reddit_messy', partition: 0, key: 'k2', value: '[1,2,3]' },
      { topic: 'reddit_messy', partition: 0, key: 'k3', value: '{"title": "no id"}' },
      { topic: 'reddit_messy', partition: 0, key: 'k4', value: JSON.stringify({ id: 'big', selftext: 'x'.repeat(5 * 1024 * 1024) }) },
      { topic: 'reddit_messy', partition: 0, key: 'k5', value: '{"id": "proto1", "__proto__": {"polluted": true}, "title": "fine"}' },
    ];
    const msgs = [...good.slice(0, 20), ...bad, ...good.slice(20)];
    await produce(broker.bootstrap, msgs, 10);
    const root = tmp();
    const run = startConsume([...baseArgs(root, 'messy', 'g-messy'), '--until-idle', '3'], root);
    const res = await run.done;
    assert.equal(res.code, 0, res.stderr);
    const got = await ids(path.join(root, 'messy'));
    assert.deepEqual(got.sort(), [...good.map((m) => JSON.parse(m.value as string).id), 'proto1'].sort());
    const dead = await readAllRows(await loadSnapshot(new LocalObjectStore(path.join(root, '_dead_letters'))));
    assert.deepEqual(dead.map((d) => d.offset).sort((a: any, b: any) => Number(a - b)), [20n, 21n, 22n, 23n]);
    const reasons = dead.map((d) => d.error as string).join('\n');
    assert.match(reasons, /invalid JSON/);
    assert.match(reasons, /not a JSON object/);
    assert.match(reasons, /has no "id"/);
    assert.match(reasons, /too large/);
    assert.equal(new TextDecoder().decode(dead.find((d) => d.offset === 20n)!.key as Uint8Array), 'k1');
  });
});

/**
 * Kafka -> Delta on S3, with a real broker and a real S3-compatible server:
 * exact results read by delta-rs, an S3 outage of 30 s mid-ingest absorbed by
 * the spool, and kill -9 during spool replay.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readAllRows } from '../../src/delta/scan.ts';
import { loadSnapshot } from '../../src/delta/snapshot.ts';
import { S3ObjectStore } from '../../src/storage/s3.ts';
import { startS3Server, type S3Server } from '../../scripts/s3-server.ts';
import { createTopics, generatedMessages, produce, startBroker, startConsume, type Broker } from '../helpers/kafka.ts';
import { PY_PRELUDE, runPython } from '../helpers/python.ts';

let broker: Broker;
let s3: S3Server;
const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'rs-kafka-s3-'));

const s3env = () => ({
  REDDIT_STREAM_S3_ENDPOINT: s3.endpoint,
  AWS_ACCESS_KEY_ID: s3.accessKeyId,
  AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
  AWS_REGION: 'us-east-1',
});
const store = (uri: string) =>
  new S3ObjectStore(uri, {
    endpoint: s3.endpoint,
    credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
  });
async function ids(uri: string): Promise<string[]> {
  try {
    return (await readAllRows(await loadSnapshot(store(uri)), { columns: ['id'] })).map((r) => r.id as string);
  } catch {
    return [];
  }
}
/** The spool's entries (not its LOCK and OWNER files). */
const spooled = (dir: string) => fs.readdirSync(dir).filter((n) => /^\d{12}/.test(n));
const args = (root: string, sub: string, group: string, spool: string) => [
  '--kafka-host',
  broker.bootstrap,
  '--subreddits',
  sub,
  '--table-root',
  root,
  '--group-id',
  group,
  '--processing-interval',
  '0.5',
  '--spool-dir',
  spool,
];

describe('consume into S3 tables (real Kafka + real S3 server)', { timeout: 600_000 }, () => {
  before(async () => {
    [broker, s3] = await Promise.all([startBroker({ partitions: 3 }), startS3Server()]);
    s3.createBucket('lake');
  });
  after(async () => {
    await Promise.all([broker?.stop(), s3?.stop()]);
  });

  it('consumes into s3:// tables exactly; delta-rs reads them with endpoint options and agrees', async () => {
    await createTopics(broker.bootstrap, ['reddit_cloud'], 3);
    const msgs = generatedMessages('reddit_cloud', 3000, 3, 51);
    await produce(broker.bootstrap, msgs);
    const cwd = tmp();
    const res = await startConsume(
      [...args('s3://lake/lake1', 'cloud', 'g-s3', path.join(cwd, 'spool')), '--until-idle', '3'],
      cwd,
      s3env(),
    ).done;
    assert.equal(res.code, 0, res.stderr);
    const got = await ids('s3://lake/lake1/cloud');
    assert.deepEqual(got.sort(), msgs.map((m) => JSON.parse(m.value as string).id).sort());
    const py = runPython(
      PY_PRELUDE +
        `
from deltalake import DeltaTable
opts = {'AWS_ENDPOINT_URL': sys.argv[2], 'AWS_ACCESS_KEY_ID': sys.argv[3], 'AWS_SECRET_ACCESS_KEY': sys.argv[4], 'AWS_REGION': 'us-east-1', 'AWS_ALLOW_HTTP': 'true'}
dt = DeltaTable(sys.argv[1], storage_options=opts)
t = dt.to_pyarrow_table(columns=['id'])
emit({'rows': t.num_rows, 'distinct': len(set(t.column('id').to_pylist())), 'txn': [dt.transaction_version('g-s3-reddit_cloud-%d' % p) for p in range(3)]})
`,
      ['s3://lake/lake1/cloud', s3.endpoint, s3.accessKeyId, s3.secretAccessKey],
    );
    assert.deepEqual(py, { rows: 3000, distinct: 3000, txn: [999, 999, 999] });
  });

  it('S3 stopped for 30 s mid-ingest: batches are spooled, replayed when S3 is back; exact result, spool empty', async () => {
    await createTopics(broker.bootstrap, ['reddit_storm'], 3);
    const cwd = tmp();
    const spoolDir = path.join(cwd, 'spool');
    const run = startConsume(args('s3://lake/lake2', 'storm', 'g-storm', spoolDir), cwd, s3env());
    const first = generatedMessages('reddit_storm', 3000, 3, 61);
    await produce(broker.bootstrap, first);
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline && (await ids('s3://lake/lake2/storm')).length === 0) {
      await new Promise((r) => setTimeout(r, 200));
    }
    await s3.stop();
    const second = generatedMessages('reddit_storm', 3000, 3, 62);
    await produce(broker.bootstrap, second);
    await new Promise((r) => setTimeout(r, 30_000));
    assert.match(run.stderr(), /kept in the local spool/);
    assert.ok(spooled(spoolDir).length > 0, 'batches were spooled during the outage');
    await s3.start();
    const deadline2 = Date.now() + 120_000;
    while (Date.now() < deadline2 && (await ids('s3://lake/lake2/storm')).length < 6000) {
      await new Promise((r) => setTimeout(r, 500));
    }
    run.child.kill('SIGTERM');
    const res = await run.done;
    assert.equal(res.code, 0, res.stderr.slice(-3000));
    const got = await ids('s3://lake/lake2/storm');
    assert.equal(got.length, 6000, res.stderr.slice(-3000));
    assert.equal(new Set(got).size, 6000);
    assert.deepEqual(spooled(spoolDir), [], 'spool empty at the end');
    assert.match(res.stderr, /spool replayed/);
  });

  it('kill -9 during spool replay, restart: exact result', async () => {
    await createTopics(broker.bootstrap, ['reddit_replay'], 3);
    const cwd = tmp();
    const spoolDir = path.join(cwd, 'spool');
    const msgs = generatedMessages('reddit_replay', 6000, 3, 71);
    // S3 down from the start of this run: everything goes to the spool.
    const run = startConsume(
      [...args('s3://lake/lake3', 'replay', 'g-replay', spoolDir), '--batch-size', '100'],
      cwd,
      s3env(),
    );
    const deadline0 = Date.now() + 60_000;
    while (Date.now() < deadline0 && !/partition assignment changed/.test(run.stderr())) {
      await new Promise((r) => setTimeout(r, 200));
    }
    await produce(broker.bootstrap, msgs.slice(0, 600));
    const deadline1 = Date.now() + 60_000;
    while (Date.now() < deadline1 && (await ids('s3://lake/lake3/replay')).length < 600) {
      await new Promise((r) => setTimeout(r, 200));
    }
    await s3.stop();
    await produce(broker.bootstrap, msgs.slice(600));
    const deadline2 = Date.now() + 60_000;
    while (Date.now() < deadline2 && (!fs.existsSync(spoolDir) || spooled(spoolDir).length < 2)) {
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.ok(
      spooled(spoolDir).length >= 2,
      `several batches spooled: ${fs.existsSync(spoolDir) ? spooled(spoolDir) : 'none'}\n${run.stderr().slice(-3000)}`,
    );
    await s3.start();
    // kill as soon as replay has committed something
    const base = (await ids('s3://lake/lake3/replay')).length;
    const deadline3 = Date.now() + 60_000;
    while (Date.now() < deadline3 && (await ids('s3://lake/lake3/replay')).length <= base) {
      await new Promise((r) => setTimeout(r, 50));
    }
    run.child.kill('SIGKILL');
    await run.done;
    const again = await startConsume(
      [...args('s3://lake/lake3', 'replay', 'g-replay', spoolDir), '--until-idle', '4'],
      cwd,
      s3env(),
    ).done;
    assert.equal(again.code, 0, again.stderr.slice(-3000));
    const got = await ids('s3://lake/lake3/replay');
    assert.equal(got.length, 6000, again.stderr.slice(-3000));
    assert.equal(new Set(got).size, 6000);
    assert.deepEqual(spooled(spoolDir), []);
  });
});

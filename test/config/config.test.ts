import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError, describeConfig, fromEnv, parseKafkaHosts, resolveConfig } from '../../src/config/config.ts';
import { loadConfig } from '../../src/config/files.ts';

describe('configuration', () => {
  it('reads the old pipeline files unchanged, with documented defaults for new keys', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rs-config-'));
    fs.writeFileSync(
      path.join(dir, 'config.yaml'),
      'subreddit:\n  - technology\n  - Python\nkafka_host: kafka\npost_type: new\ndebug: false\nprocessing_interval: 120\nbatch_size: 100\n',
    );
    fs.writeFileSync(
      path.join(dir, 'creds.json'),
      JSON.stringify({
        client_id: 'cid',
        secret_id: 'sekret',
        user: 'u',
        password: 'hunter2',
        aws_client: 'AKIAEXAMPLE',
        aws_secret: 'awssecret',
        other_tool_key: 'x',
      }),
    );
    const cfg = loadConfig({ cwd: dir, env: {}, flags: {} });
    assert.deepEqual(cfg.subreddits, ['technology', 'python']);
    assert.deepEqual(cfg.kafkaBrokers, ['kafka:9092']);
    assert.equal(cfg.processingInterval, 120);
    assert.equal(cfg.batchSize, 100);
    assert.equal(cfg.tableRoot, './lake');
    assert.equal(cfg.creds.password, 'hunter2');
    const shown = JSON.stringify(describeConfig(cfg));
    for (const secret of ['sekret', 'hunter2', 'awssecret', 'AKIAEXAMPLE']) {
      assert.ok(!shown.includes(secret), `${secret} must be masked`);
    }
    assert.ok(Object.isFrozen(cfg));
    // Credentials written into an endpoint URL are masked too.
    const withUrlCreds = loadConfig({ cwd: dir, env: {}, flags: { s3_endpoint: 'http://KEYID:URLSECRET@minio:9000' } });
    assert.equal((describeConfig(withUrlCreds) as { s3_endpoint: string }).s3_endpoint, 'http://***@minio:9000');
    for (const endpoint of ['http://KEYID:p@ss@minio:9000', 'http://AKIA:se/cret@minio:9000']) {
      const shownEndpoint = (
        describeConfig(loadConfig({ cwd: dir, env: {}, flags: { s3_endpoint: endpoint } })) as { s3_endpoint: string }
      ).s3_endpoint;
      assert.equal(shownEndpoint, 'http://***@minio:9000', endpoint);
    }
  });

  it('defaults < file < environment < flags', () => {
    const env = fromEnv({ subreddit: 'rust', REDDIT_STREAM_BATCH_SIZE: '7', KAFKA_HOST: 'envhost:1234' });
    const cfg = resolveConfig(
      [
        ['config.yaml', { subreddit: ['a1', 'b2'], batch_size: 3, table_root: '/data' }],
        ['environment', env.config],
        ['flags', { table_root: '/flag' }],
      ],
      [],
    );
    assert.deepEqual(cfg.subreddits, ['rust']);
    assert.equal(cfg.batchSize, 7);
    assert.deepEqual(cfg.kafkaBrokers, ['envhost:1234']);
    assert.equal(cfg.tableRoot, '/flag');
  });

  it('parses kafka_host forms', () => {
    assert.deepEqual(parseKafkaHosts('kafka'), ['kafka:9092']);
    assert.deepEqual(parseKafkaHosts('a:1, b ,c:3'), ['a:1', 'b:9092', 'c:3']);
    assert.deepEqual(parseKafkaHosts('[::1]'), ['[::1]:9092']);
    assert.throws(() => parseKafkaHosts('a:99999'), /out of range/);
  });

  it('reports one clear message per problem, never echoing secrets', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rs-config-'));
    fs.writeFileSync(
      path.join(dir, 'config.yaml'),
      'subreddit: [ok_sub, "bad name"]\nbatch_size: -1\nprocessing_interval: soon\nkafka_host: "a:b:c"\nauto_offset_reset: middle\ntypo_key: 1\n',
    );
    fs.writeFileSync(path.join(dir, 'creds.json'), '{"password": "hunter2",');
    assert.throws(
      () => loadConfig({ cwd: dir, env: {}, flags: {} }),
      (e: unknown) => {
        assert.ok(e instanceof ConfigError);
        assert.deepEqual(e.problems, [`${path.join(dir, 'creds.json')}: invalid JSON`]);
        assert.ok(!e.message.includes('hunter2'));
        return true;
      },
    );
    fs.writeFileSync(path.join(dir, 'creds.json'), '{}');
    assert.throws(
      () => loadConfig({ cwd: dir, env: {}, flags: {} }),
      (e: unknown) => {
        assert.ok(e instanceof ConfigError);
        assert.equal(e.problems.length, 6, e.message);
        assert.match(e.message, /unknown key "typo_key"/);
        assert.match(e.message, /invalid subreddit names: "bad name"/);
        assert.match(e.message, /batch_size must be an integer >= 1 \(got -1\)/);
        assert.match(e.message, /processing_interval must be a number/);
        assert.match(e.message, /kafka_host: "a:b:c" is not host or host:port/);
        assert.match(e.message, /auto_offset_reset must be one of earliest, latest/);
        return true;
      },
    );
  });

  it('encoder: auto by default; native and js accepted; anything else refused', () => {
    assert.equal(resolveConfig([], []).encoder, 'auto');
    assert.equal(resolveConfig([['test', { encoder: 'JS' }]], []).encoder, 'js');
    assert.equal(
      resolveConfig([['environment', fromEnv({ REDDIT_STREAM_ENCODER: 'native' }).config]], []).encoder,
      'native',
    );
    assert.throws(
      () => resolveConfig([['test', { encoder: 'fast' }]], []),
      /encoder must be one of auto, native, js \(got "fast"\)/,
    );
  });

  it('partition_by: none by default; year, month and day accepted; anything else refused; shown by config', () => {
    assert.equal(resolveConfig([], []).partitionBy, 'none');
    const month = resolveConfig([['environment', fromEnv({ REDDIT_STREAM_PARTITION_BY: 'Month' }).config]], []);
    assert.equal(month.partitionBy, 'month');
    assert.equal(describeConfig(month).partition_by, 'month');
    assert.throws(
      () => resolveConfig([['test', { partition_by: 'week' }]], []),
      /partition_by must be one of none, year, month, day \(got "week"\)/,
    );
  });

  it('gc_every_bytes: 24 MiB by default, 0 leaves collection to V8, negative refused', () => {
    assert.equal(resolveConfig([], []).gcEveryBytes, 24 << 20);
    assert.equal(
      resolveConfig([['environment', fromEnv({ REDDIT_STREAM_GC_EVERY_BYTES: '0' }).config]], []).gcEveryBytes,
      0,
    );
    assert.throws(
      () => resolveConfig([['test', { gc_every_bytes: -5 }]], []),
      /gc_every_bytes must be an integer >= 0 \(got -5\)/,
    );
    assert.throws(
      () => resolveConfig([['test', { gc_every_bytes: 1000 }]], []),
      /gc_every_bytes must be 0 \(no requested GCs\) or at least 1 MiB/,
    );
  });

  it('workers: 0 means encode in the consuming thread; negative counts are refused', () => {
    assert.equal(resolveConfig([['test', { workers: 0 }]], []).workers, 0);
    assert.equal(resolveConfig([['test', { workers: '3' }]], []).workers, 3);
    assert.throws(() => resolveConfig([['test', { workers: -1 }]], []), /workers must be an integer >= 0 \(got -1\)/);
  });
});

/**
 * Kafka with authentication and encryption: real brokers requiring SASL/PLAIN,
 * and SASL/SCRAM-SHA-512 over TLS (a self-signed certificate made by keytool).
 * The producer side (KafkaPostSink, as `produce` uses it) and `consume`
 * authenticate from the configuration; wrong credentials or an untrusted
 * certificate give a clear, secret-free message and retries, never a crash.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readAllRows } from '../../src/delta/scan.ts';
import { loadSnapshot } from '../../src/delta/snapshot.ts';
import { LocalObjectStore } from '../../src/storage/local.ts';
import { kafkaConnection, resolveConfig } from '../../src/config/config.ts';
import { KafkaPostSink } from '../../src/kafka/sink.ts';
import { silentLogger } from '../../src/logger.ts';
import { generatedMessages, startBroker, startConsume, type Broker } from '../helpers/kafka.ts';

let broker: Broker;
const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'rs-kafka-sasl-'));
const SECRET = 'alice-Secret-9f3';

/**
 * Publish 300 posts with KafkaPostSink (as `produce` does) under `config` and
 * `creds`, consume them with the real `consume` process configured through
 * `env`, and check the table holds exactly those ids and no output shows the
 * password.
 */
async function roundTrip(
  b: Broker,
  o: {
    subreddit: string;
    seed: number;
    config: Record<string, unknown>;
    creds: Record<string, string>;
    env: Record<string, string>;
  },
): Promise<void> {
  const cfg = resolveConfig([['test', { kafka_host: b.bootstrap, ...o.config }]], [['creds.json', o.creds]]);
  const sink = new KafkaPostSink({
    bootstrapBrokers: cfg.kafkaBrokers,
    clientId: `${o.subreddit}-test`,
    log: silentLogger,
    connection: kafkaConnection(cfg, (p) => fs.readFileSync(p, 'utf8')),
    topicPartitions: 2,
  });
  const msgs = generatedMessages(`reddit_${o.subreddit}`, 300, 1, o.seed);
  try {
    await sink.send(msgs.map((m) => ({ topic: m.topic, key: m.key, value: String(m.value) })));
  } finally {
    await sink.close();
  }
  const root = tmp();
  const run = startConsume(
    [
      '--kafka-host',
      b.bootstrap,
      '--subreddits',
      o.subreddit,
      '--table-root',
      root,
      '--group-id',
      `g-${o.subreddit}`,
      '--processing-interval',
      '0.5',
      '--until-idle',
      '3',
    ],
    root,
    o.env,
  );
  const res = await run.done;
  assert.equal(res.code, 0, res.stderr);
  const got = (
    await readAllRows(await loadSnapshot(new LocalObjectStore(path.join(root, o.subreddit))), { columns: ['id'] })
  ).map((r) => r.id as string);
  assert.deepEqual(got.sort(), msgs.map((m) => JSON.parse(String(m.value)).id).sort());
  assert.ok(!res.stderr.includes(SECRET) && !res.stdout.includes(SECRET), 'the password never appears in output');
}

describe('Kafka with SASL/PLAIN (real broker)', { timeout: 300_000 }, () => {
  before(async () => {
    broker = await startBroker({ partitions: 2, security: { sasl: { mechanism: 'PLAIN', users: { alice: SECRET } } } });
  });
  after(async () => {
    await broker?.stop();
  });

  it('produces and consumes with credentials from the configuration, exactly', async () => {
    await roundTrip(broker, {
      subreddit: 'secure',
      seed: 11,
      config: { kafka_security_protocol: 'SASL_PLAINTEXT' },
      creds: { kafka_user: 'alice', kafka_password: SECRET },
      env: {
        REDDIT_STREAM_KAFKA_SECURITY_PROTOCOL: 'sasl_plaintext',
        KAFKA_SASL_USERNAME: 'alice',
        KAFKA_SASL_PASSWORD: SECRET,
      },
    });
  });

  it('wrong credentials: a clear message naming the problem, retries, no secret in the output', async () => {
    const root = tmp();
    const env = {
      REDDIT_STREAM_KAFKA_SECURITY_PROTOCOL: 'sasl_plaintext',
      KAFKA_SASL_USERNAME: 'alice',
      KAFKA_SASL_PASSWORD: 'wrong-Pass-123',
    };
    const run = startConsume(
      ['--kafka-host', broker.bootstrap, '--subreddits', 'secure', '--table-root', root, '--group-id', 'g-sasl-bad'],
      root,
      env,
    );
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline && !/authenticat/i.test(run.stderr())) await new Promise((r) => setTimeout(r, 200));
    run.child.kill('SIGTERM');
    const res = await run.done;
    assert.match(res.stderr, /Kafka refused the credentials|authenticat/i, res.stderr);
    assert.match(res.stderr, /retrying/);
    assert.ok(!res.stderr.includes('wrong-Pass-123') && !res.stdout.includes('wrong-Pass-123'));
    assert.equal(res.code, 0, 'a signal while waiting for Kafka is a clean stop');
  });

  it('config: SASL without credentials is one clear problem', () => {
    assert.throws(
      () => resolveConfig([['test', { kafka_security_protocol: 'sasl_ssl' }]], []),
      /SASL_SSL needs kafka_user and kafka_password/,
    );
    assert.throws(
      () => resolveConfig([['test', { kafka_security_protocol: 'kerberos' }]], []),
      /kafka_security_protocol must be one of plaintext, ssl, sasl_plaintext, sasl_ssl/,
    );
    assert.throws(
      () => resolveConfig([['test', { kafka_ssl_ca: '/x.pem' }]], []),
      /kafka_ssl_ca is set but kafka_security_protocol is PLAINTEXT/,
    );
  });
});

describe('Kafka with SASL/SCRAM-SHA-512 over TLS (real broker)', { timeout: 300_000 }, () => {
  let secure: Broker;
  before(async () => {
    secure = await startBroker({
      partitions: 2,
      security: { sasl: { mechanism: 'SCRAM-SHA-512', users: { bob: SECRET } }, tls: true },
    });
  });
  after(async () => {
    await secure?.stop();
  });

  it('produces and consumes over TLS with SCRAM credentials, trusting the configured CA, exactly', async () => {
    const caFile = secure.caFile!;
    await roundTrip(secure, {
      subreddit: 'vault',
      seed: 12,
      config: { kafka_security_protocol: 'SASL_SSL', kafka_sasl_mechanism: 'SCRAM-SHA-512', kafka_ssl_ca: caFile },
      creds: { kafka_user: 'bob', kafka_password: SECRET },
      env: {
        REDDIT_STREAM_KAFKA_SECURITY_PROTOCOL: 'sasl_ssl',
        REDDIT_STREAM_KAFKA_SASL_MECHANISM: 'SCRAM-SHA-512',
        REDDIT_STREAM_KAFKA_SSL_CA: caFile,
        KAFKA_SASL_USERNAME: 'bob',
        KAFKA_SASL_PASSWORD: SECRET,
      },
    });
  });

  it('a broker certificate the client does not trust: a clear message naming the certificate problem, retries', async () => {
    const root = tmp();
    // No kafka_ssl_ca: the system's CAs do not know the broker's self-signed certificate.
    const env = {
      REDDIT_STREAM_KAFKA_SECURITY_PROTOCOL: 'sasl_ssl',
      REDDIT_STREAM_KAFKA_SASL_MECHANISM: 'SCRAM-SHA-512',
      KAFKA_SASL_USERNAME: 'bob',
      KAFKA_SASL_PASSWORD: SECRET,
    };
    const run = startConsume(
      [
        '--kafka-host',
        secure.bootstrap,
        '--subreddits',
        'vault',
        '--table-root',
        root,
        '--group-id',
        'g-scram-untrusted',
      ],
      root,
      env,
    );
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline && !/retrying/.test(run.stderr())) await new Promise((r) => setTimeout(r, 200));
    run.child.kill('SIGTERM');
    const res = await run.done;
    assert.match(res.stderr, /certificate/i, res.stderr);
    assert.match(res.stderr, /kafka_ssl_ca/, 'the message says which setting fixes it');
    assert.ok(!res.stderr.includes(SECRET));
    assert.equal(res.code, 0, res.stderr);
  });

  it('SCRAM with a wrong password is refused as an authentication problem', async () => {
    const root = tmp();
    const env = {
      REDDIT_STREAM_KAFKA_SECURITY_PROTOCOL: 'sasl_ssl',
      REDDIT_STREAM_KAFKA_SASL_MECHANISM: 'SCRAM-SHA-512',
      REDDIT_STREAM_KAFKA_SSL_CA: secure.caFile!,
      KAFKA_SASL_USERNAME: 'bob',
      KAFKA_SASL_PASSWORD: 'not-Bobs-9',
    };
    const run = startConsume(
      ['--kafka-host', secure.bootstrap, '--subreddits', 'vault', '--table-root', root, '--group-id', 'g-scram-bad'],
      root,
      env,
    );
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline && !/retrying/.test(run.stderr())) await new Promise((r) => setTimeout(r, 200));
    run.child.kill('SIGTERM');
    const res = await run.done;
    assert.match(res.stderr, /Kafka refused the credentials/, res.stderr);
    assert.ok(!res.stderr.includes('not-Bobs-9'));
  });
});

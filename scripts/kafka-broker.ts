/**
 * A real single-node Apache Kafka broker (KRaft: broker + controller in one
 * JVM) for development and tests: jars from Maven Central (scripts/kafka-fetch.sh),
 * storage formatted in a temp dir, listening on 127.0.0.1.
 *
 *   node scripts/kafka-broker.ts [--port 9092]      # start one for a person (Ctrl-C stops it)
 *
 * Tests import `startBroker()`; it picks free ports and returns the bootstrap
 * address plus stop/kill/restart controls.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export interface Broker {
  bootstrap: string;
  port: number;
  dataDir: string;
  /** Graceful stop (SIGTERM, waits for exit). */
  stop(): Promise<void>;
  /** Hard kill (SIGKILL). */
  kill(): Promise<void>;
  /** Start again on the same port and storage. */
  start(): Promise<void>;
  logFile: string;
  /** PEM of the certificate clients must trust (TLS brokers only). */
  caFile?: string;
  /** The broker's process id while it runs (for CPU accounting in benchmarks). */
  readonly pid: number | undefined;
}

export function kafkaLibs(): string {
  return execFileSync('bash', [path.join(ROOT, 'scripts/kafka-fetch.sh')], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  })
    .trim()
    .split('\n')
    .pop()!;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

/** True when something accepts TCP connections on 127.0.0.1:`port`. */
export function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/**
 * At process exit: kill a test server's current process, and delete its
 * storage when `created` (made by the start function, not passed in by the
 * caller). Registered before start-up, so a failed start cleans up too.
 */
export function cleanUpAtExit(current: () => ChildProcess | null, dataDir: string, created: boolean): void {
  process.once('exit', () => {
    try {
      current()?.kill('SIGKILL');
    } catch {
      /* gone */
    }
    if (created) {
      try {
        fs.rmSync(dataDir, { recursive: true, force: true, maxRetries: 3 });
      } catch {
        /* best effort */
      }
    }
  });
}

export interface BrokerOptions {
  port?: number;
  partitions?: number;
  dataDir?: string;
  heapMb?: number;
  /**
   * Secure the client listener: SASL with these users (PLAIN or SCRAM; SCRAM
   * users are created when the storage is formatted) and/or TLS with a
   * self-signed certificate for 127.0.0.1 made by keytool (`Broker.caFile`).
   * The broker talks to itself on a separate plaintext listener.
   */
  security?: {
    sasl?: { mechanism: 'PLAIN' | 'SCRAM-SHA-256' | 'SCRAM-SHA-512'; users: Record<string, string> };
    tls?: boolean;
  };
}

/** A PKCS12 keystore with a self-signed certificate for 127.0.0.1/localhost, and that certificate as PEM. */
function makeKeystore(dir: string, password: string): { keystore: string; caFile: string } {
  const keystore = path.join(dir, 'broker.p12');
  const caFile = path.join(dir, 'broker-ca.pem');
  const keytool = process.env.JAVA_HOME ? path.join(process.env.JAVA_HOME, 'bin/keytool') : 'keytool';
  if (!fs.existsSync(keystore)) {
    execFileSync(
      keytool,
      [
        '-genkeypair',
        '-keystore',
        keystore,
        '-storetype',
        'PKCS12',
        '-storepass',
        password,
        '-keypass',
        password,
        '-alias',
        'broker',
        '-keyalg',
        'RSA',
        '-keysize',
        '2048',
        '-validity',
        '7',
        '-dname',
        'CN=localhost',
        '-ext',
        'SAN=ip:127.0.0.1,dns:localhost',
        '-ext',
        'BC=ca:true',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    execFileSync(
      keytool,
      ['-exportcert', '-rfc', '-alias', 'broker', '-keystore', keystore, '-storepass', password, '-file', caFile],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
  }
  return { keystore, caFile };
}

function listenerLines(
  options: BrokerOptions,
  ports: { client: number; internal: number; controller: number },
  dataDir: string,
): { lines: string[]; caFile?: string } {
  const sec = options.security;
  if (!sec || (!sec.sasl && !sec.tls)) {
    return {
      lines: [
        `listeners=PLAINTEXT://127.0.0.1:${ports.client},CONTROLLER://127.0.0.1:${ports.controller}`,
        `advertised.listeners=PLAINTEXT://127.0.0.1:${ports.client}`,
        'listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
        'inter.broker.listener.name=PLAINTEXT',
      ],
    };
  }
  const protocol = sec.sasl ? (sec.tls ? 'SASL_SSL' : 'SASL_PLAINTEXT') : 'SSL';
  const lines = [
    `listeners=CLIENT://127.0.0.1:${ports.client},INTERNAL://127.0.0.1:${ports.internal},CONTROLLER://127.0.0.1:${ports.controller}`,
    `advertised.listeners=CLIENT://127.0.0.1:${ports.client},INTERNAL://127.0.0.1:${ports.internal}`,
    `listener.security.protocol.map=CLIENT:${protocol},INTERNAL:PLAINTEXT,CONTROLLER:PLAINTEXT`,
    'inter.broker.listener.name=INTERNAL',
  ];
  if (sec.sasl) {
    const m = sec.sasl.mechanism;
    lines.push(`listener.name.client.sasl.enabled.mechanisms=${m}`);
    lines.push(
      m === 'PLAIN'
        ? `listener.name.client.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required${Object.entries(
            sec.sasl.users,
          )
            .map(([u, p]) => ` user_${u}="${p}"`)
            .join('')};`
        : `listener.name.client.${m.toLowerCase()}.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;`,
    );
  }
  let caFile: string | undefined;
  if (sec.tls) {
    const password = 'test-keystore-pass';
    const ks = makeKeystore(dataDir, password);
    caFile = ks.caFile;
    lines.push(
      `listener.name.client.ssl.keystore.location=${ks.keystore}`,
      'listener.name.client.ssl.keystore.type=PKCS12',
      `listener.name.client.ssl.keystore.password=${password}`,
      `listener.name.client.ssl.key.password=${password}`,
    );
  }
  return { lines, caFile };
}

export async function startBroker(options: BrokerOptions = {}): Promise<Broker> {
  const libs = kafkaLibs();
  const port = options.port ?? (await freePort());
  const controllerPort = await freePort();
  const dataDir = options.dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'rs-kafka-'));
  const props = path.join(dataDir, 'server.properties');
  const listeners = listenerLines(
    options,
    { client: port, internal: await freePort(), controller: controllerPort },
    dataDir,
  );
  fs.writeFileSync(
    props,
    [
      'process.roles=broker,controller',
      'node.id=1',
      `controller.quorum.voters=1@127.0.0.1:${controllerPort}`,
      ...listeners.lines,
      'controller.listener.names=CONTROLLER',
      `log.dirs=${path.join(dataDir, 'logs')}`,
      `num.partitions=${options.partitions ?? 3}`,
      'offsets.topic.replication.factor=1',
      'offsets.topic.num.partitions=3',
      'transaction.state.log.replication.factor=1',
      'transaction.state.log.min.isr=1',
      'share.coordinator.state.topic.replication.factor=1',
      'share.coordinator.state.topic.min.isr=1',
      'group.initial.rebalance.delay.ms=0',
      'auto.create.topics.enable=false',
      'log.flush.interval.messages=1000000',
      'message.max.bytes=20971520',
      'replica.fetch.max.bytes=20971520',
      '',
    ].join('\n'),
  );
  fs.writeFileSync(
    path.join(dataDir, 'log4j2.properties'),
    [
      'status = warn',
      'appender.console.type = Console',
      'appender.console.name = STDOUT',
      'appender.console.layout.type = PatternLayout',
      'appender.console.layout.pattern = [%d] %p %m (%c)%n',
      'rootLogger.level = warn',
      'rootLogger.appenderRef.stdout.ref = STDOUT',
      '',
    ].join('\n'),
  );
  const java = process.env.JAVA_HOME ? path.join(process.env.JAVA_HOME, 'bin/java') : 'java';
  const cp = `${libs}/*`;
  const jvm = [
    `-Xmx${options.heapMb ?? 512}m`,
    '-Xms128m',
    '-XX:+UseG1GC',
    `-Dlog4j2.configurationFile=${path.join(dataDir, 'log4j2.properties')}`,
    '-Djava.awt.headless=true',
  ];
  if (!fs.existsSync(path.join(dataDir, 'logs', 'meta.properties'))) {
    // A base64url id may start with "-", which the tool would take for an option.
    let clusterId = randomBytes(16).toString('base64url');
    while (clusterId.startsWith('-')) clusterId = randomBytes(16).toString('base64url');
    const sasl = options.security?.sasl;
    const scram =
      sasl && sasl.mechanism !== 'PLAIN'
        ? Object.entries(sasl.users).flatMap(([u, p]) => ['--add-scram', `${sasl.mechanism}=[name=${u},password=${p}]`])
        : [];
    execFileSync(
      java,
      [
        ...jvm,
        '-cp',
        cp,
        'kafka.tools.StorageTool',
        'format',
        `--cluster-id=${clusterId}`,
        '-c',
        props,
        '--ignore-formatted',
        ...scram,
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
  }
  const logFile = path.join(dataDir, 'broker.log');
  let child: ChildProcess | null = null;
  const start = async () => {
    const out = fs.openSync(logFile, 'a');
    child = spawn(java, [...jvm, '-cp', cp, 'kafka.Kafka', props], { stdio: ['ignore', out, out], detached: false });
    fs.closeSync(out);
    const deadline = Date.now() + 90_000;
    while (Date.now() < deadline) {
      if (child.exitCode !== null) {
        throw new Error(
          `Kafka broker exited with ${child.exitCode}; see ${logFile}:\n${fs.readFileSync(logFile, 'utf8').slice(-3000)}`,
        );
      }
      if (await canConnect(port)) return;
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`Kafka broker did not listen on ${port} within 90 s; see ${logFile}`);
  };
  const waitExit = (signal: NodeJS.Signals) =>
    new Promise<void>((resolve) => {
      const c = child;
      if (!c || c.exitCode !== null || c.signalCode !== null) return resolve();
      c.once('exit', () => resolve());
      c.kill(signal);
    });
  // A benchmark's broker holds ~700 MB of log segments.
  cleanUpAtExit(() => child, dataDir, options.dataDir === undefined);
  await start();
  const broker: Broker = {
    bootstrap: `127.0.0.1:${port}`,
    port,
    dataDir,
    logFile,
    stop: () => waitExit('SIGTERM'),
    kill: () => waitExit('SIGKILL'),
    start,
    caFile: listeners.caFile,
    get pid() {
      return child?.pid;
    },
  };
  return broker;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const i = process.argv.indexOf('--port');
  const broker = await startBroker({ port: i > 0 ? Number(process.argv[i + 1]) : 9092 });
  console.log(
    `Kafka broker listening on ${broker.bootstrap} (KRaft, data in ${broker.dataDir}, log ${broker.logFile}); Ctrl-C stops it`,
  );
  const stop = async () => {
    await broker.stop();
    process.exit(0);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

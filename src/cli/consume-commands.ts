/** CLI commands `consume` and `config`: flags -> Config -> service; signals. */
import { stringify } from 'yaml';
import { describeConfig, type RawConfig } from '../config/config.ts';
import { loadConfig } from '../config/files.ts';
import { consoleLogger } from '../logger.ts';
import { runConsume } from '../service/consume.ts';

interface Flags {
  config?: string;
  creds?: string;
  subreddits?: string;
  kafkaHost?: string;
  tableRoot?: string;
  groupId?: string;
  batchSize?: string;
  processingInterval?: string;
  autoOffsetReset?: string;
  debug?: boolean;
  untilIdle?: number;
}

function configFrom(f: Flags) {
  const flags: RawConfig = {
    subreddit: f.subreddits,
    kafka_host: f.kafkaHost,
    table_root: f.tableRoot,
    group_id: f.groupId,
    batch_size: f.batchSize,
    processing_interval: f.processingInterval,
    auto_offset_reset: f.autoOffsetReset,
    debug: f.debug ? 'true' : undefined,
  };
  for (const k of Object.keys(flags)) if (flags[k] === undefined) delete flags[k];
  return loadConfig({ cwd: process.cwd(), configPath: f.config, credsPath: f.creds, env: process.env, flags });
}

export async function configCommand(f: Flags): Promise<void> {
  process.stdout.write(stringify(describeConfig(configFrom(f))));
}

export async function consumeCommand(f: Flags): Promise<void> {
  const config = configFrom(f);
  const log = consoleLogger(config.debug ? 'debug' : 'info');
  const controller = new AbortController();
  let signals = 0;
  const onSignal = (sig: string) => {
    signals++;
    if (signals === 1) {
      log.info(`${sig} received: stopping fetches, committing what is buffered, then exiting (send it again to exit at once; nothing is lost either way)`);
      controller.abort();
    } else {
      log.warn(`${sig} received again: exiting now; uncommitted messages will be re-read on the next start`);
      process.exit(130);
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const res = await runConsume({
    config, log, signal: controller.signal, untilIdleSeconds: f.untilIdle,
    print: (l) => process.stdout.write(l + '\n'),
  });
  log.info('stopped', { posts: res.rows, dead_letters: res.deadLetters, commits: res.commits });
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
}

/** CLI commands `consume` and `config`: flags -> Config -> service; signals. */
import { stringify } from 'yaml';
import { describeConfig } from '../config/config.ts';
import { configFrom, type ConfigFlags } from './config.ts';
import { consoleLogger } from '../logger.ts';
import { runConsume } from '../service/consume.ts';
import { ReddStreamError } from '../errors.ts';

type Flags = ConfigFlags & { untilIdle?: number };

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
      log.info(
        `${sig} received: stopping fetches, committing what is buffered, then exiting (send it again to exit at once; nothing is lost either way)`,
      );
      controller.abort();
    } else {
      log.warn(`${sig} received again: exiting now; uncommitted messages will be re-read on the next start`);
      process.exit(130);
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const res = await runConsume({
    config,
    log,
    signal: controller.signal,
    untilIdleSeconds: f.untilIdle,
    print: (l) => process.stdout.write(l + '\n'),
  });
  log.info('stopped', { posts: res.rows, dead_letters: res.deadLetters, commits: res.commits });
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  if (res.blocked?.length) {
    // Everything else was committed; these were never consumed: not a clean exit.
    const which = res.blocked.map((b) => `${b.topic}/${b.partition}`).join(', ');
    throw new ReddStreamError(
      res.blocked[0].error.code,
      `${res.blocked.length} partition(s) were not consumed because their table needs fixing (${which}): ${res.blocked[0].error.message}`,
    );
  }
}

/** CLI commands `consume` and `config`: flags -> Config -> service; signals. */
import { stringify } from 'yaml';
import { describeConfig } from '../config/config.ts';
import { configFrom, type ConfigFlags } from './config.ts';
import { consoleLogger } from '../logger.ts';
import { runConsume } from '../service/consume.ts';
import { ReddStreamError } from '../errors.ts';
import { untilStopped } from './signals.ts';

type Flags = ConfigFlags & { untilIdle?: number };

export async function configCommand(f: Flags): Promise<void> {
  process.stdout.write(stringify(describeConfig(configFrom(f))));
}

export async function consumeCommand(f: Flags): Promise<void> {
  const config = configFrom(f);
  const log = consoleLogger(config.debug ? 'debug' : 'info');
  const stopping = 'stopping fetches, committing what is buffered, then exiting';
  const res = await untilStopped(log, stopping, (signal) =>
    runConsume({
      config,
      log,
      signal,
      untilIdleSeconds: f.untilIdle,
      threadPoolSize: Number(process.env.UV_THREADPOOL_SIZE) || undefined,
      print: (l) => process.stdout.write(l + '\n'),
    }),
  );
  log.info('stopped', { posts: res.rows, dead_letters: res.deadLetters, commits: res.commits });
  if (res.blocked?.length) {
    // Everything else was committed; these were never consumed: not a clean exit.
    const which = res.blocked.map((b) => `${b.topic}/${b.partition}`).join(', ');
    throw new ReddStreamError(
      res.blocked[0].error.code,
      `${res.blocked.length} partition(s) were not consumed because their table needs fixing (${which}): ${res.blocked[0].error.message}`,
    );
  }
}

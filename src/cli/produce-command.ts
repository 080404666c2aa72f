/** CLI command `produce`: flags -> Config -> the produce service, until stopped. */
import { consoleLogger } from '../logger.ts';
import { runProduce } from '../service/produce.ts';
import { configFrom, type ConfigFlags } from './config.ts';
import { untilStopped } from './signals.ts';

type Flags = ConfigFlags & {
  state: string;
  maxCycles?: number;
  pollSeconds?: number;
  userAgent?: string;
  redditApiUrl?: string;
  redditAuthUrl?: string;
};

export async function produceCommand(f: Flags): Promise<void> {
  const config = configFrom(f);
  const log = consoleLogger(config.debug ? 'debug' : 'info');
  const stopping = 'stopping after the current cycle (the state file makes a restart exact)';
  const r = await untilStopped(log, stopping, (signal) =>
    runProduce({
      config,
      log,
      signal,
      print: (l) => process.stdout.write(l + '\n'),
      statePath: f.state,
      maxCycles: f.maxCycles,
      pollSeconds: f.pollSeconds,
      userAgent: f.userAgent,
      redditApiUrl: f.redditApiUrl,
      redditAuthUrl: f.redditAuthUrl,
    }),
  );
  log.info('producer stopped', { cycles: r.cycles, posts_sent: r.sent, requests: r.requests });
}

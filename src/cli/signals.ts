/**
 * The one place that handles SIGINT and SIGTERM. The first asks the running
 * command to stop gracefully (its abort signal: flush, commit, exit 0); a
 * second exits at once with 130 (what is uncommitted is read again on the
 * next start: nothing is lost either way).
 */
import type { Logger } from '../logger.ts';

export async function untilStopped<T>(
  log: Logger,
  stopping: string,
  run: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const controller = new AbortController();
  let signals = 0;
  const onSignal = (sig: string) => {
    if (++signals === 1) {
      log.info(`${sig} received: ${stopping} (send it again to exit at once; nothing is lost either way)`);
      controller.abort();
    } else {
      log.warn(`${sig} received again: exiting now; uncommitted work is redone on the next start`);
      process.exit(130);
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    return await run(controller.signal);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/**
 * The command line: argv -> options -> commands. The only place that writes
 * to stdout/stderr for the user and sets the exit code.
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { describeError, ReddStreamError } from '../errors.ts';
import { catLines, type RowFormat } from './cat.ts';
import { describeLines } from './describe.ts';
import { historyLines } from './history.ts';

const VERSION = '0.1.0';

function intArg(name: string) {
  return (v: string) => {
    if (!/^\d+$/.test(v)) throw new InvalidArgumentError(`${name} must be a non-negative integer`);
    return Number(v);
  };
}

async function print(lines: AsyncIterable<string> | Iterable<string>): Promise<void> {
  for await (const line of lines) {
    if (!process.stdout.write(line + '\n')) await new Promise((r) => process.stdout.once('drain', r));
  }
}

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('reddit-stream')
    .description('Stream Reddit posts through Kafka into Delta Lake tables, and read them back.')
    .version(VERSION)
    .exitOverride()
    .enablePositionalOptions()
    .showHelpAfterError();

  program
    .command('cat')
    .description('print the rows of a Delta table')
    .argument('<table>', 'table location (directory or file:// URL)')
    .option('--version <n>', 'read the table as of this version (time travel)', intArg('--version'))
    .addOption(new Option('--format <format>', 'output format').choices(['ndjson', 'csv', 'table']).default('table'))
    .option('--limit <n>', 'print at most this many rows', intArg('--limit'))
    .action(async (table: string, opts: { version?: number; format: RowFormat; limit?: number }) => {
      await print(catLines(table, opts));
    });

  program
    .command('history')
    .description('list the commits of a Delta table, newest first')
    .argument('<table>', 'table location')
    .option('--limit <n>', 'show at most this many commits', intArg('--limit'))
    .addOption(new Option('--format <format>', 'output format').choices(['table', 'ndjson']).default('table'))
    .action(async (table: string, opts: { limit?: number; format: 'table' | 'ndjson' }) => {
      await print(await historyLines(table, opts));
    });

  program
    .command('describe')
    .description('show schema, partition columns, protocol, version, files and checkpoint of a Delta table')
    .argument('<table>', 'table location')
    .option('--version <n>', 'describe this version', intArg('--version'))
    .addOption(new Option('--format <format>', 'output format').choices(['text', 'json']).default('text'))
    .action(async (table: string, opts: { version?: number; format: 'text' | 'json' }) => {
      await print(await describeLines(table, opts));
    });

  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (typeof code === 'string' && code.startsWith('commander.')) {
      return code === 'commander.helpDisplayed' || code === 'commander.version' || code === 'commander.help' ? 0 : 2;
    }
    const prefix = err instanceof ReddStreamError ? `error [${err.code}]` : 'error';
    process.stderr.write(`reddit-stream: ${prefix}: ${describeError(err)}\n`);
    if (process.env.REDDIT_STREAM_DEBUG && err instanceof Error) process.stderr.write(`${err.stack}\n`);
    return 1;
  }
}

process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
});
process.exitCode = await main(process.argv);

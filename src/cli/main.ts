/**
 * The command line: argv -> options -> commands. The only place that writes
 * to stdout/stderr for the user and sets the exit code.
 */
import { VERSION } from '../version.ts';
import { Command, InvalidArgumentError, Option } from 'commander';
import { describeError, ReddStreamError } from '../errors.ts';
import type { RowFormat } from './cat.ts';
import { s3For } from './config.ts';
import { ConfigError } from '../config/config.ts';
import { PARTITION_BY } from '../reddit/time-partitions.ts';
// Each command's module is loaded when the command runs: a process carries
// only the code it uses (the Kafka client, DuckDB, the Parquet encoders...).

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
  // Registered in the order `--help` lists them: reading tables, streaming, then local ingestion.
  for (const register of [
    registerCat,
    registerHistory,
    registerDescribe,
    registerQuery,
    registerConsume,
    registerProduce,
    registerConfig,
    registerSpool,
    registerDemo,
    registerGenerate,
    registerLoad,
    registerStatus,
    registerOptimize,
    registerVacuum,
  ]) {
    register(program);
  }
  return program;
}

function registerCat(program: Command): void {
  program
    .command('cat')
    .description('print the rows of a Delta table')
    .argument('<table>', 'table location (directory or file:// URL)')
    .option('--version <n>', 'read the table as of this version (time travel)', intArg('--version'))
    .addOption(new Option('--format <format>', 'output format').choices(['ndjson', 'csv', 'table']).default('table'))
    .option('--limit <n>', 'print at most this many rows', intArg('--limit'))
    .action(async (table: string, opts: { version?: number; format: RowFormat; limit?: number }) => {
      const { catLines } = await import('./cat.ts');
      await print(catLines(table, { ...opts, s3: s3For(table) }));
    });
}

function registerHistory(program: Command): void {
  program
    .command('history')
    .description('list the commits of a Delta table, newest first')
    .argument('<table>', 'table location')
    .option('--limit <n>', 'show at most this many commits', intArg('--limit'))
    .addOption(new Option('--format <format>', 'output format').choices(['table', 'ndjson']).default('table'))
    .action(async (table: string, opts: { limit?: number; format: 'table' | 'ndjson' }) => {
      const { historyLines } = await import('./history.ts');
      await print(await historyLines(table, { ...opts, s3: s3For(table) }));
    });
}

function registerDescribe(program: Command): void {
  program
    .command('describe')
    .description('show schema, partition columns, protocol, version, files and checkpoint of a Delta table')
    .argument('<table>', 'table location')
    .option('--version <n>', 'describe this version', intArg('--version'))
    .addOption(new Option('--format <format>', 'output format').choices(['text', 'json']).default('text'))
    .action(async (table: string, opts: { version?: number; format: 'text' | 'json' }) => {
      const { describeLines } = await import('./describe.ts');
      await print(await describeLines(table, { ...opts, s3: s3For(table) }));
    });
}

function registerQuery(program: Command): void {
  program
    .command('query')
    .description('run SQL over Delta tables with DuckDB; each table is named by its folder')
    .argument('<sql>', 'the query, e.g. "SELECT subreddit, count(*) FROM technology GROUP BY 1"')
    .option('--root <dir>', 'make every table under this directory available')
    .option('--table <dir>', 'make this one table available (named by its folder)')
    .option('--version <n>', 'with --table: query this version', intArg('--version'))
    .addOption(new Option('--format <format>', 'output format').choices(['table', 'csv', 'ndjson']).default('table'))
    .action(async (sql: string, opts) => {
      // Loaded on use: only `query` needs DuckDB (a native module), so other commands never load it.
      const { queryLines } = await import('./query.ts');
      await print(await queryLines({ ...opts, sql, s3: s3For(opts.table ?? opts.root) }));
    });
}

/** The options of the commands that read the configuration (files, environment, these flags). */
function withConfigOptions(cmd: Command): Command {
  return cmd
    .option('--config <file>', 'configuration file (default ./config.yaml if present)')
    .option('--creds <file>', 'credentials file (default ./creds.json if present)')
    .option('--subreddits <list>', 'comma-separated subreddits (overrides `subreddit`)')
    .option('--kafka-host <hosts>', 'host, host:port, or a comma-separated list')
    .option('--table-root <dir>', 'where the tables live')
    .option('--group-id <id>', 'Kafka consumer group (also the txn app id prefix)')
    .option('--batch-size <n>', 'messages per partition before a flush')
    .option('--processing-interval <seconds>', 'flush latency limit in seconds')
    .addOption(
      new Option('--auto-offset-reset <where>', 'where to start partitions the tables know nothing about').choices([
        'earliest',
        'latest',
      ]),
    )
    .option('--s3-endpoint <url>', 'S3-compatible endpoint for s3:// table roots (AWS when unset)')
    .option('--spool-dir <dir>', 'where batches wait while the table store is unavailable')
    .option('--metrics-address <host:port>', 'where metrics, health and status are served (off: nowhere)')
    .option('--debug', 'verbose logs');
}

function registerConsume(program: Command): void {
  withConfigOptions(program.command('consume'))
    .description('consume reddit_<subreddit> topics from Kafka into Delta tables, exactly once')
    .option(
      '--until-idle <seconds>',
      'exit 0 once everything is committed and nothing arrived for this long',
      intArg('--until-idle'),
    )
    .action(async (opts) => (await import('./consume-commands.ts')).consumeCommand(opts));
}

function registerProduce(program: Command): void {
  withConfigOptions(program.command('produce'))
    .description(
      'poll Reddit for new posts of the configured subreddits and publish them to Kafka, without loss or repeats',
    )
    .option('--state <file>', 'where the producer remembers what it sent', './producer-state.json')
    .option('--max-cycles <n>', 'stop after this many polls', intArg('--max-cycles'))
    .option(
      '--poll-seconds <n>',
      'seconds between polls when posts keep coming (backs off up to 300 s when not)',
      intArg('--poll-seconds'),
    )
    .option(
      '--user-agent <ua>',
      'User-Agent sent to Reddit (default <platform>:reddit-stream:<version> (by /u/<user>))',
    )
    .addOption(new Option('--reddit-api-url <url>').hideHelp())
    .addOption(new Option('--reddit-auth-url <url>').hideHelp())
    .action(async (opts) => (await import('./produce-command.ts')).produceCommand(opts));
}

function registerConfig(program: Command): void {
  withConfigOptions(program.command('config'))
    .description('print the resolved configuration (secrets masked)')
    .action(async (opts) => (await import('./consume-commands.ts')).configCommand(opts));
}

function registerSpool(program: Command): void {
  const spool = program.command('spool').description('batches kept locally while the table store was unavailable');
  withConfigOptions(spool.command('list'))
    .description('list spooled batches (oldest first)')
    .action(async (opts) => print(await (await import('./spool-commands.ts')).spoolListLines(opts)));
  withConfigOptions(spool.command('replay'))
    .description('commit spooled batches now, in order (exactly once)')
    .action(async (opts) => print(await (await import('./spool-commands.ts')).spoolReplayLines(opts)));
}

function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('run the ingest pipeline on generated posts into local Delta tables (no servers needed)')
    .option('--table-root <dir>', 'where the tables go', './lake')
    .option('--subreddits <list>', 'comma-separated subreddits', 'technology,programming,dataengineering,python')
    .option('--posts <n>', 'posts per subreddit added by this run', intArg('--posts'), 2500)
    .option('--partitions <n>', 'partitions per topic', intArg('--partitions'), 2)
    .option('--batch-size <n>', 'messages per partition buffer before a flush', intArg('--batch-size'), 1000)
    .action(async (opts) => (await import('./ingest-commands.ts')).demoCommand(opts));
}

function registerGenerate(program: Command): void {
  program
    .command('generate')
    .description('write deterministic synthetic Reddit posts as NDJSON')
    .option('--count <n>', 'number of posts', intArg('--count'), 1000)
    .option('--seed <n>', 'random seed', intArg('--seed'), 1)
    .option('--subreddits <list>', 'comma-separated subreddits (default: 12 common ones)')
    .option('--out <file>', 'write to this file (.gz compresses) instead of stdout')
    .action(async (opts) => (await import('./ingest-commands.ts')).generateCommand(opts));
}

function registerLoad(program: Command): void {
  program
    .command('load')
    .description('backfill posts from NDJSON files (.gz, .zst too) into Delta tables, idempotently')
    .argument('<file...>', 'input files')
    .option('--root <dir>', 'route each post to <dir>/<subreddit>')
    .option('--table <dir>', 'load every post into this one table')
    .option('--batch-size <n>', 'lines per commit', intArg('--batch-size'), 10000)
    .addOption(
      new Option('--unknown-fields <policy>', 'fields the schema does not know')
        .choices(['keep', 'drop'])
        .default('keep'),
    )
    .addOption(
      new Option('--partition-by <unit>', 'time partitioning of tables it creates (by created_at, UTC)')
        .choices([...PARTITION_BY])
        .default('none'),
    )
    .action(async (files: string[], opts) => (await import('./ingest-commands.ts')).loadCommand(files, opts));
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
    if (/^(1|true|yes|on)$/i.test(process.env.REDDIT_STREAM_DEBUG ?? '') && err instanceof Error) {
      process.stderr.write(`${err.stack}\n`);
    }
    // Invalid configuration (files, environment or flags) is a usage error, like a flag commander refuses.
    return err instanceof ConfigError ? 2 : 1;
  }
}

process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
});
process.exitCode = await main(process.argv);

function registerStatus(program: Command): void {
  program
    .command('status')
    .description('version, rows, files, last commit and committed offsets of the tables; lag with --kafka-host')
    .argument('[table]', 'table location')
    .option('--root <dir>', 'every table under this directory or s3:// prefix')
    .option('--kafka-host <hosts>', 'ask this broker for end offsets (lag)')
    .addOption(new Option('--format <format>', 'output format').choices(['text', 'json']).default('text'))
    .action(async (table: string | undefined, opts: { root?: string; kafkaHost?: string; format: string }) => {
      const { statusLines } = await import('./status.ts');
      await print(await statusLines({ table, ...opts, s3: s3For(table ?? opts.root) }));
    });
}

function registerOptimize(program: Command): void {
  program
    .command('optimize')
    .description('compact the small files of a Delta table (or of every table under --root), keeping every row')
    .argument('[table]', 'table location')
    .option('--root <dir>', 'every table under this directory or s3:// prefix')
    .option(
      '--max-rewrite-mb <n>',
      'MiB of input rewritten at once: bounds memory (default 32)',
      intArg('--max-rewrite-mb'),
    )
    .action(async (table: string | undefined, opts: { root?: string; maxRewriteMb?: number }) => {
      const { optimizeLines } = await import('./maintenance-commands.ts');
      await print(await optimizeLines({ table, ...opts, s3: s3For(table ?? opts.root) }));
    });
}

function registerVacuum(program: Command): void {
  program
    .command('vacuum')
    .description("delete data files a Delta table no longer needs (removed longer ago than the table's retention)")
    .argument('[table]', 'table location')
    .option('--root <dir>', 'every table under this directory or s3:// prefix')
    .option(
      '--retain-hours <n>',
      "keep files removed within this many hours (default: the table's, 168)",
      intArg('--retain-hours'),
    )
    .option('--dry-run', 'list what would be deleted, delete nothing')
    .option('--full', 'also delete old files no version references (left by crashed writers)')
    .option('--force', "allow a retention shorter than the table's")
    .action(
      async (
        table: string | undefined,
        opts: { root?: string; retainHours?: number; dryRun?: boolean; full?: boolean; force?: boolean },
      ) => {
        const { vacuumLines } = await import('./maintenance-commands.ts');
        await print(await vacuumLines({ table, ...opts, s3: s3For(table ?? opts.root) }));
      },
    );
}

/** `reddit-stream spool list | replay`: look at and act on the outage spool. */
import * as fs from 'node:fs';
import { s3Options } from '../config/config.ts';
import { replaySpool } from '../ingest/spool-replayer.ts';
import { Spool } from '../ingest/spool.ts';
import { tableRootFor, TableCatalog } from '../ingest/tables.ts';
import { consoleLogger, type Logger } from '../logger.ts';
import { configFrom, type ConfigFlags } from './config.ts';
import { renderTable } from './format.ts';

export async function spoolListLines(f: ConfigFlags): Promise<string[]> {
  const cfg = configFrom(f);
  // The spool, and those of other consumers started in the same directory (spool-2, ...).
  const dirs = Spool.slots(cfg.spoolDir).filter(
    (d, i) => i === 0 || fs.statSync(d, { throwIfNoEntry: false })?.isDirectory(),
  );
  const out: string[] = [];
  for (const dir of dirs) {
    const spool = new Spool(dir, { maxBytes: cfg.spoolMaxBytes });
    await spool.init({ readOnly: true });
    const rows = spool
      .list()
      .map((e) => [
        String(e.seq),
        new Date(e.createdAt).toISOString(),
        e.tables.join(','),
        (e.bytes / 1e6).toFixed(2),
        e.txns.map((t) => `${t.appId}=${t.version}`).join(' '),
      ]);
    out.push(
      `spool ${spool.dir}: ${spool.size} batch(es), ${(spool.bytes / 1e6).toFixed(2)} MB (limit ${(spool.maxBytes / 1e6).toFixed(0)} MB)`,
      ...(rows.length ? renderTable(['seq', 'spooled at', 'tables', 'MB', 'offsets (txn)'], rows, 100) : []),
      ...spool.broken.map((b) => `unreadable entry ${b.name} (set aside as .broken by the next replay): ${b.error}`),
    );
  }
  if (dirs.length > 1) out.push(`(spool replay --spool-dir <dir> replays one of them)`);
  return out;
}

export async function spoolReplayLines(f: ConfigFlags): Promise<string[]> {
  const cfg = configFrom(f);
  const log = consoleLogger(cfg.debug ? 'debug' : 'info');
  const spool = new Spool(cfg.spoolDir, { maxBytes: cfg.spoolMaxBytes });
  await spool.init();
  try {
    return await replay(cfg, spool, log);
  } finally {
    await spool.close();
  }
}

async function replay(cfg: ReturnType<typeof configFrom>, spool: Spool, log: Logger): Promise<string[]> {
  const catalog = new TableCatalog(tableRootFor(cfg.tableRoot, s3Options(cfg)), {
    log,
    unknownFields: cfg.unknownFields,
    partitionBy: cfg.partitionBy,
  });
  const r = await replaySpool(spool, catalog, log);
  if (r.error) throw r.error;
  return [`replayed ${r.replayed} batch(es); ${r.remaining} remain`];
}

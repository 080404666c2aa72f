/**
 * `reddit-stream status`: one screen on the tables under a root (or one
 * table): version, rows, live files (small ones too), bytes, last commit,
 * and each consumer group's committed offset per partition, read from the
 * tables' `txn` actions (the real positions); with a reachable broker, the
 * lag of each: end offset minus the next offset to commit.
 */
import { compactionSettings, isSmall } from '../delta/optimize.ts';
import { loadSnapshot, numRecords, readHistory } from '../delta/snapshot.ts';
import { parseTxnAppId } from '../ingest/topics.ts';
import { openStore } from '../storage/index.ts';
import { parseKafkaHosts } from '../config/settings.ts';
import { topicEndOffsets } from '../kafka/end-offsets.ts';
import { tablesOf, type Target } from './maintenance-commands.ts';

export interface Position {
  group: string;
  topic: string;
  partition: number;
  offset: number;
  /** Messages after it in Kafka (null: the broker was not asked or did not answer). */
  lag: number | null;
}

export interface TableStatus {
  table: string;
  version: number;
  rows: number | null;
  files: number;
  smallFiles: number;
  bytes: number;
  lastCommit: string | null;
  positions: Position[];
}

export interface StatusReport {
  tables: TableStatus[];
  /** Why lag is missing (no broker given, or it did not answer). */
  lagNote: string | null;
}

async function tableStatus(table: string, uri: string, t: Target): Promise<TableStatus> {
  const store = openStore(uri, t.s3);
  const snap = await loadSnapshot(store, { skipFeatureCheck: true });
  const settings = compactionSettings((k) => snap.tableProperty(k));
  const files = snap.files();
  let rows: number | null = 0;
  for (const f of files) {
    const n = numRecords(f.stats);
    rows = rows === null || n === null ? null : rows + n;
  }
  const [last] = await readHistory(store, 1);
  const positions = snap.txns().flatMap((x) => {
    const p = parseTxnAppId(x.appId);
    return p ? [{ ...p, offset: x.version, lag: null }] : [];
  });
  return {
    table,
    version: snap.version,
    rows,
    files: files.length,
    smallFiles: files.filter((f) => isSmall(f, settings)).length,
    bytes: files.reduce((s, f) => s + f.size, 0),
    lastCommit: last?.timestamp ? new Date(last.timestamp).toISOString() : null,
    positions: positions.sort((a, b) => a.group.localeCompare(b.group) || a.partition - b.partition),
  };
}

/** End offsets by topic, or why there are none. */
export type EndOffsets = (topics: string[]) => Promise<Map<string, bigint[]>>;

export async function statusReport(t: Target, ends?: EndOffsets): Promise<StatusReport> {
  const tables: TableStatus[] = [];
  for (const [name, uri] of await tablesOf(t)) tables.push(await tableStatus(name, uri, t));
  const topics = [...new Set(tables.flatMap((s) => s.positions.map((p) => p.topic)))];
  if (!ends) return { tables, lagNote: 'lag: no broker asked (give --kafka-host)' };
  if (topics.length === 0) return { tables, lagNote: null };
  let offsets: Map<string, bigint[]>;
  try {
    offsets = await ends(topics);
  } catch (err) {
    return { tables, lagNote: `lag unknown: Kafka did not answer (${(err as Error).message})` };
  }
  for (const p of tables.flatMap((s) => s.positions)) {
    const end = offsets.get(p.topic)?.[p.partition];
    if (end !== undefined) p.lag = Math.max(0, Number(end) - (p.offset + 1));
  }
  return { tables, lagNote: null };
}

const mb = (n: number) => `${(n / 1e6).toFixed(1)} MB`;

function ago(iso: string | null, now: number): string {
  if (!iso) return '-';
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  const span = s < 120 ? `${s} s` : s < 7200 ? `${Math.round(s / 60)} min` : `${(s / 3600).toFixed(1)} h`;
  return `${iso.slice(0, 19).replace('T', ' ')}Z (${span} ago)`;
}

/** The text form: a line per table, a line per group and partition under it. */
export function statusText(r: StatusReport, now = Date.now()): string[] {
  const out: string[] = [];
  for (const s of r.tables) {
    out.push(
      `${s.table}: version ${s.version}, ${s.rows ?? '?'} rows, ${s.files} files (${s.smallFiles} small), ` +
        `${mb(s.bytes)}, last commit ${ago(s.lastCommit, now)}`,
    );
    for (const p of s.positions) {
      const lag = p.lag === null ? '' : `, lag ${p.lag}`;
      out.push(`  ${p.group} ${p.topic}[${p.partition}] at offset ${p.offset}${lag}`);
    }
  }
  if (r.tables.length === 0) out.push('no tables');
  if (r.lagNote) out.push(r.lagNote);
  return out;
}

/** `status` as printed: text or JSON; lag when `kafkaHost` is given. */
export async function statusLines(o: Target & { kafkaHost?: string; format: string }): Promise<string[]> {
  const brokers = o.kafkaHost ? parseKafkaHosts(o.kafkaHost) : null;
  const ends: EndOffsets | undefined = brokers ? (topics) => topicEndOffsets(brokers, topics) : undefined;
  const report = await statusReport(o, ends);
  return o.format === 'json' ? [JSON.stringify(report, null, 2)] : statusText(report);
}

/**
 * The metrics of `consume`, in a prom-client registry (Prometheus text
 * format). Names follow the Prometheus guidelines: prefix `reddit_stream_`,
 * base units (seconds, bytes), `_total` for counters; labels are
 * low-cardinality (topic, partition, table, a reason class, never a
 * message's text).
 *
 * Counters are pushed by the service as things happen (a poll, a batch, a
 * conflict, a maintenance task); gauges that describe the present (lag,
 * spool) are read from their owner at scrape time.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { BatchSummary } from '../ingest/summary.ts';
import type { MaintenanceEvent } from '../ingest/maintenance.ts';

/** One partition's lag, as the service computes it at scrape time. */
export interface PartitionLag {
  topic: string;
  partition: number;
  /** Messages in Kafka after the table's position (null: the end offset is not known yet). */
  messages: number | null;
  /** Age of the oldest message read but not yet committed (0: none). */
  seconds: number;
}

/** What the gauges read at scrape time. */
export interface ConsumeGaugeSources {
  lag(): PartitionLag[];
  spool(): { entries: number; bytes: number } | null;
}

/** A dead letter's reason as a label: one of a few classes, never the text (which holds values). */
export function deadLetterClass(reason: string): string {
  const classes: Array<[RegExp, string]> = [
    [/^empty message/, 'empty'],
    [/^message too large/, 'too_large'],
    [/^message is not valid UTF-8/, 'invalid_utf8'],
    [/^invalid JSON/, 'invalid_json'],
    [/^not a JSON object/, 'not_an_object'],
    [/^post (has no "id"|"id" must)/, 'invalid_id'],
    [/^cannot be written to the table/, 'unwritable'],
    [/^field "/, 'invalid_field'],
  ];
  return classes.find(([re]) => re.test(reason))?.[1] ?? 'other';
}

/** The table a location names (its last path segment), as a label. */
export function tableLabel(location: string): string {
  return location.replace(/\/+$/, '').split('/').pop() ?? location;
}

const PREFIX = 'reddit_stream_';

export class ConsumeMetrics {
  private readonly received: Counter<'topic'>;
  private readonly receivedBytes: Counter<'topic'>;
  private readonly rows: Counter<'table'>;
  private readonly deadLetters: Counter<'table' | 'reason'>;
  private readonly duplicates: Counter<'table'>;
  private readonly commits: Counter<'table'>;
  private readonly spooled: Counter<'table'>;
  private readonly conflicts: Counter<'table'>;
  private readonly flushes: Counter<'table' | 'reason'>;
  private readonly flushFailures: Counter<'topic'>;
  private readonly flushSeconds: Histogram<'table'>;
  private readonly lastCommit: Gauge<'table'>;
  private readonly version: Gauge<'table'>;
  private readonly maintenanceRuns: Counter<'table' | 'task' | 'outcome'>;
  private readonly maintenanceFiles: Counter<'table' | 'task' | 'change'>;
  private readonly maintenanceBytes: Counter<'table' | 'task' | 'change'>;

  constructor(registry: Registry, sources: ConsumeGaugeSources) {
    const registers = [registry];
    const counter = <L extends string>(name: string, help: string, labelNames: L[]) =>
      new Counter<L>({ name: PREFIX + name, help, labelNames, registers });
    const gauge = <L extends string>(name: string, help: string, labelNames: L[]) =>
      new Gauge<L>({ name: PREFIX + name, help, labelNames, registers });
    this.received = counter('messages_received_total', 'Kafka messages polled', ['topic']);
    this.receivedBytes = counter('message_bytes_received_total', 'Bytes of Kafka message values polled', ['topic']);
    this.rows = counter('rows_committed_total', 'Posts committed to their table', ['table']);
    this.deadLetters = counter('dead_letters_total', 'Messages committed as dead letters, by reason class', [
      'table',
      'reason',
    ]);
    this.duplicates = counter('duplicates_merged_total', 'Posts merged with a later copy in the same batch', ['table']);
    this.commits = counter('commits_total', 'Batches committed to a table', ['table']);
    this.spooled = counter('batches_spooled_total', 'Batches kept in the local spool (table store failing)', ['table']);
    this.conflicts = counter('commit_conflicts_total', 'Batches dropped because another writer advanced', ['table']);
    this.flushes = counter('flushes_total', 'Batches committed or spooled, by what made them due', ['table', 'reason']);
    this.flushFailures = counter('flush_failures_total', 'Flushes that failed (the batch is read again)', ['topic']);
    this.flushSeconds = new Histogram({
      name: PREFIX + 'flush_duration_seconds',
      help: 'Time from taking a batch to its commit (encode and commit)',
      labelNames: ['table'],
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    this.lastCommit = gauge('last_commit_timestamp_seconds', 'Unix time of the last commit', ['table']);
    this.version = gauge('table_version', 'Table version of the last commit', ['table']);
    this.maintenanceRuns = counter('maintenance_runs_total', 'Maintenance tasks run, by outcome', [
      'table',
      'task',
      'outcome',
    ]);
    this.maintenanceFiles = counter('maintenance_files_total', 'Files removed or added by maintenance', [
      'table',
      'task',
      'change',
    ]);
    this.maintenanceBytes = counter('maintenance_bytes_total', 'Bytes removed or added by maintenance', [
      'table',
      'task',
      'change',
    ]);
    this.lagGauges(registers, sources);
  }

  private lagGauges(registers: Registry[], sources: ConsumeGaugeSources): void {
    new Gauge({
      name: PREFIX + 'lag_messages',
      help: "Messages in Kafka after the table's committed position",
      labelNames: ['topic', 'partition'],
      registers,
      collect() {
        this.reset();
        for (const l of sources.lag()) {
          if (l.messages !== null) this.set({ topic: l.topic, partition: String(l.partition) }, l.messages);
        }
      },
    });
    new Gauge({
      name: PREFIX + 'lag_seconds',
      help: 'Age of the oldest message read but not yet committed',
      labelNames: ['topic', 'partition'],
      registers,
      collect() {
        this.reset();
        for (const l of sources.lag()) this.set({ topic: l.topic, partition: String(l.partition) }, l.seconds);
      },
    });
    new Gauge({
      name: PREFIX + 'spool_entries',
      help: 'Batches waiting in the local spool',
      registers,
      collect() {
        this.set(sources.spool()?.entries ?? 0);
      },
    });
    new Gauge({
      name: PREFIX + 'spool_bytes',
      help: 'Bytes of the batches waiting in the local spool',
      registers,
      collect() {
        this.set(sources.spool()?.bytes ?? 0);
      },
    });
  }

  polled(topic: string, messages: number, bytes: number): void {
    this.received.inc({ topic }, messages);
    this.receivedBytes.inc({ topic }, bytes);
  }

  batch(s: BatchSummary): void {
    const table = s.table;
    this.rows.inc({ table }, s.rows);
    if (s.duplicates) this.duplicates.inc({ table }, s.duplicates);
    for (const d of s.deadLetterReasons) this.deadLetters.inc({ table, reason: deadLetterClass(d.error) });
    this.flushes.inc({ table, reason: s.reason });
    this.flushSeconds.observe({ table }, s.ms / 1000);
    if (s.spooled) {
      this.spooled.inc({ table });
      return;
    }
    this.commits.inc({ table });
    this.lastCommit.set({ table }, Date.now() / 1000);
    if (s.version !== null) this.version.set({ table }, s.version);
  }

  conflict(table: string): void {
    this.conflicts.inc({ table });
  }

  flushFailed(topic: string): void {
    this.flushFailures.inc({ topic });
  }

  maintenance(e: MaintenanceEvent): void {
    const labels = { table: tableLabel(e.table), task: e.task };
    this.maintenanceRuns.inc({ ...labels, outcome: e.outcome });
    if (e.filesRemoved) this.maintenanceFiles.inc({ ...labels, change: 'removed' }, e.filesRemoved);
    if (e.filesAdded) this.maintenanceFiles.inc({ ...labels, change: 'added' }, e.filesAdded);
    if (e.bytesRemoved) this.maintenanceBytes.inc({ ...labels, change: 'removed' }, e.bytesRemoved);
    if (e.bytesAdded) this.maintenanceBytes.inc({ ...labels, change: 'added' }, e.bytesAdded);
  }
}

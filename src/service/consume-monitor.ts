/**
 * What `consume` knows about itself while it runs, for its metrics, its
 * health endpoints and its status page: it hears the pipeline, the run loop
 * and the maintenance as things happen (counters go to `ConsumeMetrics`),
 * and asks the broker for the end offsets of the assigned partitions every
 * few seconds (lag, and whether Kafka answers).
 *
 * Lag is exact because positions live in the tables: end offset minus the
 * table's committed offset plus one, per partition this process owns.
 */
import { Registry, collectDefaultMetrics } from 'prom-client';
import { isStorageFailure } from '../errors.ts';
import type { IngestPipeline } from '../ingest/pipeline.ts';
import type { MaintenanceEvent } from '../ingest/maintenance.ts';
import type { Spool } from '../ingest/spool.ts';
import type { BatchSummary } from '../ingest/summary.ts';
import type { SourceHealth } from '../kafka/source.ts';
import { ConsumeMetrics, type PartitionLag } from '../metrics/consume-metrics.ts';

/** The part of the Kafka source the monitor asks. */
export interface MonitoredSource {
  health(): SourceHealth;
  endOffsets(): Promise<Array<{ topic: string; partition: number; end: bigint }>>;
}

export interface Readiness {
  ready: boolean;
  /** Why not, one line each (empty when ready). */
  reasons: string[];
}

/** How often the end offsets are asked for, and how old an answer may be before Kafka counts as unreachable. */
const PROBE_EVERY_MS = 5_000;
const PROBE_STALE_MS = 20_000;

const partitionKey = (topic: string, partition: number) => `${topic}\u0000${partition}`;

export class ConsumeMonitor {
  readonly registry = new Registry();
  readonly metrics: ConsumeMetrics;
  private readonly pipeline: () => IngestPipeline | undefined;
  private readonly source: () => MonitoredSource | undefined;
  private readonly spool: Spool | undefined;
  private readonly clock: () => number;
  private ends = new Map<string, bigint>();
  private lastProbeOkAt: number | null = null;
  private probeError: string | null = null;
  private timer: NodeJS.Timeout | null = null;
  private probing = false;
  /** The table store's last failure, until a batch commits again. */
  private storeFailure: string | null = null;

  constructor(o: {
    pipeline: () => IngestPipeline | undefined;
    source: () => MonitoredSource | undefined;
    spool?: Spool;
    clock?: () => number;
  }) {
    this.pipeline = o.pipeline;
    this.source = o.source;
    this.spool = o.spool;
    this.clock = o.clock ?? Date.now;
    collectDefaultMetrics({ register: this.registry });
    this.metrics = new ConsumeMetrics(this.registry, {
      lag: () => this.lag(),
      spool: () => (this.spool ? { entries: this.spool.size, bytes: this.spool.bytes } : null),
    });
  }

  /** Start asking for end offsets (now, then every few seconds). */
  start(): void {
    void this.probe();
    this.timer = setInterval(() => void this.probe(), PROBE_EVERY_MS);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Ask the broker for the end offsets of the assigned partitions; never throws. */
  async probe(): Promise<void> {
    const source = this.source();
    if (!source || this.probing) return;
    this.probing = true;
    try {
      const ends = await source.endOffsets();
      this.ends = new Map(ends.map((e) => [partitionKey(e.topic, e.partition), e.end]));
      this.lastProbeOkAt = this.clock();
      this.probeError = null;
    } catch (err) {
      this.probeError = (err as Error).message;
    } finally {
      this.probing = false;
    }
  }

  /** Lag of each partition this process owns. */
  lag(): PartitionLag[] {
    const now = this.clock();
    return (this.pipeline()?.partitions() ?? []).map((p) => {
      const end = this.ends.get(partitionKey(p.topic, p.partition));
      const next = p.committed === null ? null : p.committed + 1n;
      const messages = end === undefined ? null : Number(next === null ? end : end > next ? end - next : 0n);
      const seconds = p.oldestPendingAt === null ? 0 : Math.max(0, (now - p.oldestPendingAt) / 1000);
      return { topic: p.topic, partition: p.partition, messages, seconds };
    });
  }

  /** Whether the service can do its work now: Kafka answers, partitions are assigned, tables take commits, the spool has room. */
  readiness(): Readiness {
    const reasons: string[] = [];
    const health = this.source()?.health();
    const fresh = this.lastProbeOkAt !== null && this.clock() - this.lastProbeOkAt <= PROBE_STALE_MS;
    if (!health?.connected || !fresh) {
      reasons.push(`Kafka is not reachable${this.probeError ? ` (${this.probeError.slice(0, 200)})` : ''}`);
    }
    if (health && health.assigned === 0) reasons.push('no partitions are assigned to this consumer');
    if (this.storeFailure) reasons.push(`the table store is failing: ${this.storeFailure.slice(0, 200)}`);
    if (this.spool?.full()) reasons.push('the spool is full: consumption is paused until the table store is back');
    return { ready: reasons.length === 0, reasons };
  }

  // What the ingest reports.

  polled(topic: string, messages: number, bytes: number): void {
    this.metrics.polled(topic, messages, bytes);
  }

  batch(s: BatchSummary): void {
    this.metrics.batch(s);
    this.storeFailure = s.spooled ? 'batches go to the local spool until it answers' : null;
  }

  conflict(table: string): void {
    this.metrics.conflict(table);
  }

  flushFailed(topic: string, error: Error): void {
    this.metrics.flushFailed(topic);
    if (isStorageFailure(error)) this.storeFailure = error.message;
  }

  maintenance(e: MaintenanceEvent): void {
    this.metrics.maintenance(e);
  }
}

/**
 * Table catalog: where each subreddit's table and the dead-letter table live
 * under a table root, opened (or created) once and cached. Post tables are
 * evolved (nullable columns added) when the post schema grew.
 */
import * as nodePath from 'node:path';
import type { Logger } from '../logger.ts';
import { DeltaTable } from '../delta/table.ts';
import { struct, type DataType, type StructType } from '../delta/schema.ts';
import { ReddStreamError } from '../errors.ts';
import { fileURLToPath } from 'node:url';
import { LocalObjectStore } from '../storage/local.ts';
import { isS3Uri } from '../storage/index.ts';
import { S3ObjectStore, type S3StoreOptions } from '../storage/s3.ts';
import type { ObjectStore } from '../storage/object-store.ts';
import { postTableSchema, type UnknownFieldPolicy } from '../reddit/post-schema.ts';
import {
  partitionedSchema,
  tablePartitionBy,
  timePartitionColumns,
  type PartitionBy,
} from '../reddit/time-partitions.ts';
import { DEAD_LETTER_SCHEMA, DEAD_LETTER_TABLE } from './dead-letters.ts';
import type { ParquetEncoder } from '../parquet/encoder.ts';
import { INTEGER_TYPES } from './post-batch.ts';

/** A place holding many tables, one per name (a directory, later an S3 prefix). */
export interface TableRoot {
  readonly url: string;
  store(name: string): ObjectStore;
}

export function localTableRoot(dir: string, options: { fsync?: boolean } = {}): TableRoot {
  const abs = nodePath.resolve(dir);
  return { url: abs, store: (name) => new LocalObjectStore(nodePath.join(abs, name), options) };
}

/** A table root from a URI: a local directory, file://, or s3://bucket/prefix. */
export function tableRootFor(uri: string, s3?: S3StoreOptions): TableRoot {
  if (isS3Uri(uri)) {
    const root = new S3ObjectStore(uri, s3);
    return { url: root.url, store: (name) => root.child(name) };
  }
  return localTableRoot(uri.startsWith('file://') ? fileURLToPath(uri) : uri);
}

/** The table's schema extended with the columns of `wanted` it lacks, or null when nothing is missing. */
export function evolvedSchema(current: StructType, wanted: StructType): StructType | null {
  const have = new Set(current.fields.map((f) => f.name.toLowerCase()));
  const missing = wanted.fields.filter((f) => !have.has(f.name.toLowerCase()));
  return missing.length ? struct([...current.fields, ...missing.map((f) => ({ ...f, nullable: true }))]) : null;
}

/**
 * Table column types that can hold the values of a post column of type
 * `wanted`: a narrower number type (out-of-range values are dead letters),
 * or an integer type for a boolean (true and false written as 1 and 0 by
 * `booleansAsIntegers`: the old Python pipeline's tables have int32 `likes`).
 */
function holds(table: DataType, wanted: DataType): boolean {
  if (JSON.stringify(table) === JSON.stringify(wanted)) return true;
  if (table.kind !== 'primitive' || wanted.kind !== 'primitive') return false;
  if (wanted.name === 'long') return ['integer', 'short', 'byte', 'double', 'float'].includes(table.name);
  if (wanted.name === 'double') return table.name === 'float';
  if (wanted.name === 'boolean') return INTEGER_TYPES.has(table.name);
  return false;
}

/**
 * Post columns whose type in an existing table cannot hold what the post
 * model writes (a table created by another tool): described for an error.
 */
export function incompatibleColumns(current: StructType, wanted: StructType): string[] {
  const want = new Map(wanted.fields.map((f) => [f.name.toLowerCase(), f]));
  const out: string[] = [];
  for (const f of current.fields) {
    const w = want.get(f.name.toLowerCase());
    if (w && !holds(f.type, w.type)) {
      out.push(`${f.name} is ${typeName(f.type)} in the table, posts give ${typeName(w.type)}`);
    }
  }
  return out;
}

function typeName(t: DataType): string {
  return t.kind === 'primitive' ? t.name : t.kind;
}

/**
 * Properties of the tables the service creates. A checkpoint every 100
 * commits (delta-rs's default) instead of 10: a streaming table's
 * checkpoints carry every tombstone of the last 7 days, and at one commit per
 * post they were 85% of a 10,000-commit log (README, Table maintenance).
 */
export const NEW_TABLE_PROPERTIES = { 'delta.checkpointInterval': '100' };

export interface CatalogOptions {
  unknownFields?: UnknownFieldPolicy;
  /** Time partitioning of the post tables it creates (existing tables keep theirs). */
  partitionBy?: PartitionBy;
  log: Logger;
  encoder?: ParquetEncoder;
}

export class TableCatalog {
  readonly root: TableRoot;
  /** The post model's columns: what every post table has or gains by evolution. */
  private readonly wanted: StructType;
  private readonly partitionBy: PartitionBy;
  private readonly log: Logger;
  private readonly open = new Map<string, Promise<DeltaTable>>();

  private readonly encoder: ParquetEncoder | undefined;

  constructor(root: TableRoot, options: CatalogOptions) {
    this.root = root;
    this.encoder = options.encoder;
    this.wanted = postTableSchema(options.unknownFields ?? 'keep');
    this.partitionBy = options.partitionBy ?? 'none';
    this.log = options.log;
  }

  /**
   * The post table `name`, created on first use. An existing table whose
   * columns cannot hold posts is refused with the columns named (every
   * flush of it fails, visibly, until the table or table_root is fixed),
   * rather than every post becoming a dead letter.
   */
  postTable(name: string): Promise<DeltaTable> {
    const create = {
      schema: partitionedSchema(this.wanted, this.partitionBy),
      partitionColumns: timePartitionColumns(this.partitionBy),
    };
    return this.get(name, create, (t) => {
      const bad = incompatibleColumns(t.schema, this.wanted);
      if (bad.length) {
        throw new ReddStreamError(
          'SCHEMA_MISMATCH',
          `table ${t.store.url} cannot hold Reddit posts: ${bad.join('; ')} (a table written by another tool? use another table_root, or convert those columns)`,
        );
      }
      const layout = tablePartitionBy(t.partitionColumns);
      if (layout !== this.partitionBy) {
        this.log.info('table keeps its layout', {
          table: name,
          partitionColumns: t.partitionColumns.join(', ') || '(none)',
          partitionBy: this.partitionBy,
        });
      }
    });
  }

  deadLetterTable(): Promise<DeltaTable> {
    return this.get(DEAD_LETTER_TABLE, { schema: DEAD_LETTER_SCHEMA });
  }

  /** Schema to pass to `append` so the table gains missing columns, if any. */
  appendSchema(table: DeltaTable): StructType | undefined {
    return evolvedSchema(table.schema, this.wanted) ?? undefined;
  }

  private get(
    name: string,
    create: { schema: StructType; partitionColumns?: string[] },
    check?: (t: DeltaTable) => void,
  ): Promise<DeltaTable> {
    let p = this.open.get(name);
    if (!p) {
      p = DeltaTable.openOrCreate(this.root.store(name), { ...create, name, configuration: NEW_TABLE_PROPERTIES }).then(
        (t) => {
          check?.(t);
          if (this.encoder) t.encoder = this.encoder;
          this.log.debug('table ready', { table: name, version: t.version, location: t.store.url });
          return t;
        },
      );
      p.catch(() => this.open.delete(name));
      this.open.set(name, p);
    }
    return p;
  }
}

/**
 * Tables the old Python pipeline wrote keep working: its own code
 * (`../shared/anchors/seed_polars_consumer.py`: parse_message, to_frame,
 * write_deltalake) writes a table of real fixture posts, then the consumer's
 * pipeline and `load` append to that same table, and delta-rs and Polars read
 * every row back: the old rows unchanged, the new ones in the table's own
 * types (int32 `likes` as 1/0, float32 `created_utc`), the post model's extra
 * columns added (null for the old rows).
 *
 * Python comes from `scripts/pyenv.sh`; these tests fail (never skip) when it
 * cannot be set up.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { IngestPipeline } from '../../src/ingest/pipeline.ts';
import { loadFile } from '../../src/ingest/load.ts';
import { localTableRoot, TableCatalog } from '../../src/ingest/tables.ts';
import { silentLogger } from '../../src/logger.ts';
import { SHARED } from '../helpers/fixtures.ts';
import { PY_PRELUDE, runPython } from '../helpers/python.ts';

const POSTS = path.join(SHARED, 'fixtures/reddit/posts.ndjson');
const ANCHOR = path.join(SHARED, 'anchors/seed_polars_consumer.py');
const lines = fs
  .readFileSync(POSTS, 'utf8')
  .split('\n')
  .filter((l) => l.trim() !== '');
const posts = lines.map((l) => JSON.parse(l) as { id: string; likes?: boolean | null });
/** likes as the old pipeline stores it (Polars casts true/false to 1/0 in its int32 column). */
const likesOf = (p: { likes?: boolean | null }) => (p.likes === true ? 1 : p.likes === false ? 0 : null);

/** The old pipeline's code, as its consumer runs it on batches of 100: one delta-rs append per batch. */
const OLD_WRITE = `${PY_PRELUDE}
import importlib.util, types
# Only the Kafka client is left out (parse_message and to_frame do not use it).
stub = types.ModuleType('confluent_kafka'); stub.Consumer = stub.KafkaError = None
sys.modules['confluent_kafka'] = stub
spec = importlib.util.spec_from_file_location('seed', sys.argv[1]); seed = importlib.util.module_from_spec(spec); spec.loader.exec_module(seed)
from deltalake import write_deltalake
lines = open(sys.argv[2], 'rb').read().splitlines()[: int(sys.argv[4])]
for i in range(0, len(lines), 100):
    rows = [r for r in (seed.parse_message(l) for l in lines[i:i + 100]) if r]
    write_deltalake(sys.argv[3], seed.to_frame(rows).unique(subset=['id']), mode='append')
emit({'written': len(lines)})
`;

/** Every row as delta-rs and as Polars read it: id -> [likes, created_utc, created_at is set], and the column types. */
const READ = `${PY_PRELUDE}
import polars as pl
from deltalake import DeltaTable
uri = sys.argv[1]
dt = DeltaTable(uri)
# created_at is the post model's column: a table only the old pipeline wrote has none.
cols = [c for c in ['id', 'likes', 'created_utc', 'created_at'] if c in dt.schema().to_arrow().names]
t = dt.to_pyarrow_table(columns=cols)
rs = {r['id']: [r['likes'], r['created_utc'], r.get('created_at') is not None] for r in t.to_pylist()}
df = pl.read_delta(uri)
pol = {r['id']: [r['likes'], r['created_utc'], r.get('created_at') is not None] for r in df.select(cols).to_dicts()}
emit({'version': dt.version(), 'rows': t.num_rows, 'polarsRows': df.height, 'rs': rs, 'polars': pol,
      'types': {k: str(v) for k, v in df.schema.items()}, 'txns': {a: dt.transaction_version(a) for a in sys.argv[2:]}})
`;

describe('tables written by the old Python pipeline', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rs-old-pipeline-'));
  const table = path.join(dir, 'tech');
  let before300: Record<string, [number | null, number, boolean]>;
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  before(() => {
    assert.deepEqual(runPython(OLD_WRITE, [ANCHOR, POSTS, table, '300']), { written: 300 });
    before300 = runPython(READ, [table]).rs;
    assert.equal(Object.keys(before300).length, 300);
  });

  it("the consumer appends real posts in the table's own types; delta-rs and Polars read old and new rows", async () => {
    const enc = new TextEncoder();
    const pipeline = new IngestPipeline({
      group: 'g',
      policy: { maxMessages: 1000, maxBytes: 1 << 30, maxLatencyMs: 60_000 },
      catalog: new TableCatalog(localTableRoot(dir), { log: silentLogger }),
      log: silentLogger,
    });
    await pipeline.assign('reddit_tech', 0);
    for (let i = 300; i < 600; i++) {
      pipeline.push({
        topic: 'reddit_tech',
        partition: 0,
        offset: BigInt(i - 300),
        key: enc.encode(posts[i].id),
        value: enc.encode(lines[i]),
      });
    }
    const out = await pipeline.flushAll();
    assert.equal(out.reseek.length, 0);

    const r = runPython(READ, [table, 'g-reddit_tech-0']);
    assert.equal(r.rows, 600);
    assert.equal(r.polarsRows, 600);
    assert.equal(r.txns['g-reddit_tech-0'], 299);
    assert.equal(r.types.likes, 'Int32');
    assert.equal(r.types.created_utc, 'Float32');
    for (const reader of ['rs', 'polars'] as const) {
      const rows = r[reader] as Record<string, [number | null, number, boolean]>;
      assert.equal(Object.keys(rows).length, 600, reader);
      // The old rows are as the old pipeline wrote them (no created_at: it did not have that column).
      for (const [id, v] of Object.entries(before300)) assert.deepEqual(rows[id], v, `${reader}: old row ${id}`);
      for (const p of posts.slice(300, 600)) {
        const [likes, createdUtc, hasCreatedAt] = rows[p.id];
        assert.equal(likes, likesOf(p), `${reader}: likes of ${p.id}`);
        assert.equal(
          createdUtc,
          Math.fround((p as unknown as { created_utc: number }).created_utc),
          `${reader}: created_utc of ${p.id}`,
        );
        assert.equal(hasCreatedAt, true);
      }
    }
    // Some new rows do have likes set, so 1/0 was really written.
    assert.ok(posts.slice(300, 600).filter((p) => typeof p.likes === 'boolean').length > 0);
  });

  it('load appends to it too', async () => {
    const file = path.join(dir, 'more.ndjson');
    fs.writeFileSync(file, lines.slice(600, 900).join('\n') + '\n');
    const res = await loadFile(file, {
      catalog: new TableCatalog(localTableRoot(dir), { log: silentLogger }),
      table: 'tech',
      log: silentLogger,
    });
    assert.equal(res.posts, 300);
    assert.equal(res.deadLetters, 0);
    const r = runPython(READ, [table]);
    assert.equal(r.rows, 900);
    for (const p of posts.slice(600, 900)) assert.equal(r.polars[p.id][0], likesOf(p), `likes of ${p.id}`);
    for (const [id, v] of Object.entries(before300)) assert.deepEqual(r.rs[id], v, `old row ${id}`);
  });
});

/** Worker for test/s3/s3.test.ts: appends `commits` single-row commits to an S3 table. Prints one JSON line per result. */
import { DeltaTable } from '../../src/delta/table.ts';
import { S3ObjectStore } from '../../src/storage/s3.ts';

const [uri, worker, commits] = process.argv.slice(2);
const store = new S3ObjectStore(uri, {
  endpoint: process.env.TEST_S3_ENDPOINT,
  credentials: { accessKeyId: process.env.TEST_S3_KEY!, secretAccessKey: process.env.TEST_S3_SECRET! },
});
const table = await DeltaTable.open(store);
for (let k = 0; k < Number(commits); k++) {
  const r = await table.appendRows([{ id: BigInt(Number(worker) * 1000 + k), worker: Number(worker) }], {
    txns: [{ appId: `w${worker}`, version: k }],
  });
  process.stdout.write(JSON.stringify({ kind: r.kind, version: r.version }) + '\n');
}

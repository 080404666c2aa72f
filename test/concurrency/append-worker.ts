/**
 * Worker process for test/concurrency/writers.test.ts: appends to a local
 * Delta table, one JSON line per event on stdout.
 *
 *   node append-worker.ts <tableDir> <workerId> <appId> <commits> <rowsPerCommit>
 *
 * Commit k (0-based) appends `rowsPerCommit` rows (id = worker * 1e6 + k * 1e3 + j)
 * with the application transaction {appId, version: k}.
 * Protocol: the worker opens the table and prints {"event":"ready","round":k}
 * before each commit, then waits for a line "go" on stdin, so the parent can
 * release all workers at the same moment. After each commit it prints
 * {"event":"result", ...} (committed or conflict). An exception prints
 * {"event":"error", ...} and exits 1.
 */
import * as readline from 'node:readline';
import { DeltaTable, LocalObjectStore, type DeltaValue } from '../../src/index.ts';

const [dir, workerArg, appId, commitsArg, rowsArg] = process.argv.slice(2);
const worker = Number(workerArg);
const commits = Number(commitsArg);
const rowsPerCommit = Number(rowsArg);
if (!dir || !appId || !Number.isInteger(worker) || !Number.isInteger(commits) || !Number.isInteger(rowsPerCommit)) {
  process.stderr.write('usage: append-worker.ts <tableDir> <workerId> <appId> <commits> <rowsPerCommit>\n');
  process.exit(2);
}

function send(obj: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(obj)}\n`);
}

const lines = readline.createInterface({ input: process.stdin });
const queue: string[] = [];
let waiter: ((line: string | null) => void) | null = null;
let closed = false;
lines.on('line', (l) => {
  if (waiter) {
    const w = waiter;
    waiter = null;
    w(l);
  } else queue.push(l);
});
lines.on('close', () => {
  closed = true;
  if (waiter) {
    const w = waiter;
    waiter = null;
    w(null);
  }
});
function nextLine(): Promise<string | null> {
  if (queue.length > 0) return Promise.resolve(queue.shift()!);
  if (closed) return Promise.resolve(null);
  return new Promise((resolve) => {
    waiter = resolve;
  });
}

try {
  const table = await DeltaTable.open(new LocalObjectStore(dir));
  for (let k = 0; k < commits; k++) {
    send({ event: 'ready', worker, round: k });
    const line = await nextLine();
    if (line !== 'go') throw new Error(`expected "go" on stdin, got ${JSON.stringify(line)}`);
    const rows: Array<Record<string, DeltaValue>> = Array.from({ length: rowsPerCommit }, (_, j) => ({
      id: BigInt(worker) * 1_000_000n + BigInt(k) * 1_000n + BigInt(j),
      worker,
      seq: k,
      payload: `w${worker}-k${k}-r${j}`,
    }));
    const res = await table.appendRows(rows, { txns: [{ appId, version: k }] });
    if (res.kind === 'committed') {
      send({
        event: 'result',
        worker,
        round: k,
        kind: 'committed',
        version: res.version,
        attempts: res.attempts,
        files: res.files.map((f) => f.path),
        rows: res.rows,
        checkpointError: res.checkpointError ? String(res.checkpointError.stack ?? res.checkpointError) : null,
      });
    } else {
      send({
        event: 'result',
        worker,
        round: k,
        kind: 'conflict',
        version: res.version,
        reason: res.reason,
        winningTxns: res.winningTxns,
      });
    }
  }
  lines.close();
} catch (err) {
  send({ event: 'error', worker, message: String((err as Error)?.stack ?? err) });
  process.exitCode = 1;
  lines.close();
}

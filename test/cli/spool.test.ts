/** `reddit-stream spool list | replay`: an operator sees and commits what waits in the spool. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { readAllRows } from '../../src/delta/scan.ts';
import { loadSnapshot } from '../../src/delta/snapshot.ts';
import { DeltaTable } from '../../src/delta/table.ts';
import { Spool } from '../../src/ingest/spool.ts';
import { PostBatchBuilder } from '../../src/reddit/normalise.ts';
import { postTableSchema } from '../../src/reddit/post-schema.ts';
import { LocalObjectStore } from '../../src/storage/local.ts';
import { REPO_ROOT } from '../helpers/fixtures.ts';

describe('reddit-stream spool', () => {
  it('lists spooled batches and replays them into the table, exactly once', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rs-spool-cli-'));
    const lake = path.join(dir, 'lake');
    const spoolDir = path.join(dir, 'spool');
    const table = await DeltaTable.create(new LocalObjectStore(path.join(lake, 'tech')), {
      schema: postTableSchema('keep'),
      name: 'tech',
    });
    const spool = new Spool(spoolDir);
    await spool.init();
    for (let b = 0; b < 2; b++) {
      const builder = new PostBatchBuilder();
      for (let i = 0; i < 5; i++) builder.add(JSON.stringify({ id: `p${b}-${i}`, subreddit: 'tech', title: 'x' }));
      const prep = await table.prepareAppend(builder.build(), {
        txns: [{ appId: 'g-reddit_tech-0', version: b * 10 + 9, expect: b === 0 ? null : 9 }],
        prepareTxnCheck: b === 0,
      });
      assert.ok(prep.kind === 'prepared', 'prepared, not a conflict');
      await spool.add(['reddit_tech'], [{ table: 'tech', prepared: prep }]);
    }
    await spool.close(); // as a consume that stopped: the CLI may own the spool now
    const run = (...a: string[]) =>
      spawnSync(
        process.execPath,
        [
          path.join(REPO_ROOT, 'src/cli/main.ts'),
          'spool',
          ...a,
          '--spool-dir',
          spoolDir,
          '--table-root',
          lake,
          '--group-id',
          'g',
        ],
        { cwd: dir, encoding: 'utf8' },
      );
    const list = run('list');
    assert.equal(list.status, 0, list.stderr);
    assert.match(list.stdout, /: 2 batch\(es\)/);
    assert.match(list.stdout, /g-reddit_tech-0=19/);
    const replay = run('replay');
    assert.equal(replay.status, 0, replay.stderr);
    assert.match(replay.stdout, /replayed 2 batch\(es\); 0 remain/);
    const snap = await loadSnapshot(new LocalObjectStore(path.join(lake, 'tech')));
    assert.equal((await readAllRows(snap)).length, 10);
    assert.equal(snap.txnVersion('g-reddit_tech-0'), 19);
    assert.match(run('replay').stdout, /replayed 0 batch\(es\); 0 remain/);
    // A second consumer's spool (spool-2) is listed too.
    const second = new Spool(`${spoolDir}-2`);
    await second.init();
    const b2 = new PostBatchBuilder();
    b2.add(JSON.stringify({ id: 'p9', subreddit: 'tech', title: 'x' }));
    const prep2 = await table.prepareAppend(b2.build(), {
      txns: [{ appId: 'g-reddit_tech-1', version: 3, expect: null }],
    });
    await second.add(
      ['reddit_tech'],
      [{ table: 'tech', prepared: prep2 as Exclude<typeof prep2, { kind: 'conflict' }> }],
    );
    await second.close();
    const both = run('list');
    assert.match(both.stdout, /spool .*spool: 0 batch\(es\)/);
    assert.match(both.stdout, /spool .*spool-2: 1 batch\(es\)/);
    assert.equal((await readAllRows(await loadSnapshot(new LocalObjectStore(path.join(lake, 'tech'))))).length, 10);
  });
});

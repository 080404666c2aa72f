import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ReddStreamError } from '../../src/errors.ts';
import { checkpointPath, commitPath, multiPartCheckpointPath } from '../../src/delta/log-path.ts';
import { classifyLog, planLogSegment } from '../../src/delta/log-segment.ts';

const list = (...paths: string[]) => classifyLog(paths.map((path) => ({ path, size: 1 })));
const commits = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => commitPath(from + i));

describe('planLogSegment', () => {
  it('replays all commits when there is no checkpoint', () => {
    const seg = planLogSegment(list(...commits(0, 3)), 't');
    assert.equal(seg.version, 3);
    assert.equal(seg.checkpoint, null);
    assert.deepEqual(
      seg.commits.map((c) => c.version),
      [0, 1, 2, 3],
    );
  });

  it('starts from the newest checkpoint at or before the target', () => {
    const log = list(...commits(0, 25), checkpointPath(10), checkpointPath(20));
    const latest = planLogSegment(log, 't');
    assert.equal(latest.checkpoint?.version, 20);
    assert.deepEqual(
      latest.commits.map((c) => c.version),
      [21, 22, 23, 24, 25],
    );
    const travel = planLogSegment(log, 't', 15);
    assert.equal(travel.checkpoint?.version, 10);
    assert.deepEqual(
      travel.commits.map((c) => c.version),
      [11, 12, 13, 14, 15],
    );
    assert.equal(planLogSegment(log, 't', 5).checkpoint, null);
  });

  it('ignores an incomplete multi-part checkpoint', () => {
    const log = list(...commits(0, 12), checkpointPath(5), multiPartCheckpointPath(10, 1, 2));
    assert.equal(planLogSegment(log, 't').checkpoint?.version, 5);
    const full = list(...commits(0, 12), multiPartCheckpointPath(10, 2, 2), multiPartCheckpointPath(10, 1, 2));
    const seg = planLogSegment(full, 't');
    assert.equal(seg.checkpoint?.version, 10);
    assert.deepEqual(seg.checkpoint?.paths, [multiPartCheckpointPath(10, 1, 2), multiPartCheckpointPath(10, 2, 2)]);
  });

  it('works when early commits were cleaned up behind a checkpoint', () => {
    const log = list(...commits(20, 23), checkpointPath(20));
    assert.equal(planLogSegment(log, 't').version, 23);
    assert.throws(
      () => planLogSegment(log, 't', 10),
      (e: unknown) =>
        e instanceof ReddStreamError && e.code === 'VERSION_NOT_FOUND' && /log starts at version 20/.test(e.message),
    );
  });

  it('reports a gap in the log naming the missing file', () => {
    const log = list(commitPath(0), commitPath(1), commitPath(3));
    assert.throws(() => planLogSegment(log, 't'), /missing commit file 00000000000000000002\.json/);
  });

  it('refuses versions beyond the latest and empty logs', () => {
    assert.throws(() => planLogSegment(list(...commits(0, 2)), 't', 9), /latest version is 2/);
    assert.throws(
      () => planLogSegment(list('_delta_log/_last_checkpoint', '_delta_log/foo.crc'), 't'),
      (e: unknown) => e instanceof ReddStreamError && e.code === 'NOT_A_DELTA_TABLE',
    );
  });

  it('ignores non-log files and v2 checkpoint names', () => {
    const log = list(
      ...commits(0, 1),
      '_delta_log/00000000000000000001.crc',
      '_delta_log/00000000000000000001.checkpoint.80a083e8-7026-4e79-81be-64bd76c43a11.json',
    );
    const seg = planLogSegment(log, 't');
    assert.equal(seg.checkpoint, null);
    assert.equal(seg.version, 1);
  });

  it('names the v2Checkpoint feature when only a V2 checkpoint could rebuild the version (early commits cleaned up)', () => {
    const log = list(
      ...commits(9, 10),
      '_delta_log/00000000000000000008.checkpoint.80a083e8-7026-4e79-81be-64bd76c43a11.json',
    );
    assert.throws(
      () => planLogSegment(log, 't'),
      (e: unknown) =>
        e instanceof ReddStreamError && e.code === 'UNSUPPORTED_FEATURE' && /v2Checkpoint/.test(e.message),
    );
  });
});

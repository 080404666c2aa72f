/** `status` as text: one line per table, per group and partition, and what is missing. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { statusText, type StatusReport } from '../../src/cli/status.ts';

describe('status text', () => {
  it('one line per table, one per group and partition, lag when known, and what is missing', () => {
    const report: StatusReport = {
      tables: [
        {
          table: 'tech',
          version: 42,
          rows: 1000,
          files: 7,
          smallFiles: 6,
          bytes: 2_500_000,
          lastCommit: '2026-12-04T20:00:00.000Z',
          positions: [
            { group: 'g', topic: 'reddit_tech', partition: 0, offset: 499, lag: 3 },
            { group: 'g', topic: 'reddit_tech', partition: 1, offset: 500, lag: null },
          ],
        },
      ],
      lagNote: 'lag: no broker asked (give --kafka-host)',
    };
    assert.deepEqual(statusText(report, Date.parse('2026-12-04T20:05:00Z')), [
      'tech: version 42, 1000 rows, 7 files (6 small), 2.5 MB, last commit 2026-12-04 20:00:00Z (5 min ago)',
      '  g reddit_tech[0] at offset 499, lag 3',
      '  g reddit_tech[1] at offset 500',
      'lag: no broker asked (give --kafka-host)',
    ]);
    assert.deepEqual(statusText({ tables: [], lagNote: null }), ['no tables']);
  });
});

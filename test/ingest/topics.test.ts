/** The consumer positions `status` reads back from txn app ids. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseTxnAppId, txnAppId } from '../../src/ingest/topics.ts';

describe('txn app ids', () => {
  it('parse back to group, topic and partition, whatever the group holds; other app ids are not positions', () => {
    for (const [group, topic, partition] of [
      ['reddit-stream', 'reddit_tech', 0],
      ['g-with-dashes-reddit_x-1', 'reddit_Data_Engineering', 12],
    ] as const) {
      assert.deepEqual(parseTxnAppId(txnAppId(group, topic, partition)), { group, topic, partition });
    }
    assert.equal(parseTxnAppId('load-3f2a9c'), null);
    assert.equal(parseTxnAppId('app'), null);
  });
});

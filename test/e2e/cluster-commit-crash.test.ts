// Scenario: Holdfast on a Redis Cluster dies between the commits of one message for two stores on
// two shards: one store's part is written, the other's is not, and the sender got no reply.
import { afterEach, describe, expect, it } from 'vitest';
import { createKeys } from '../../src/queue/keys.js';
import { SmtpDialog, sendRaw, testMessage } from '../helpers/smtp-client.js';
import { waitFor } from '../helpers/wait.js';
import { OutageWorld } from './harness/world.js';

const MESSAGE = testMessage('commit crash');
const MESSAGE_ID = '<commitcrash@remote.test>';

describe('a node killed between the per-store commits of a message on a Redis Cluster', () => {
  let world: OutageWorld | undefined;
  afterEach(async () => {
    await world?.cleanup();
    world = undefined;
  });

  it("loses nothing: the sender's retry is delivered to both stores, and the store whose part was committed gets it twice", async () => {
    world = await OutageWorld.start('commit-crash-cluster', { cluster: true });
    const { cluster } = world;
    const keys = createKeys('hf');
    for (const store of ['store1', 'store2']) await world.cli('hold', store, '--reason', 'to count', '--by', 'e2e');
    const committed = await cluster.primaryForKey(keys.mailstoreBacklog('store1'));
    const stalled = await cluster.primaryForKey(keys.mailstoreBacklog('store2'));
    expect(committed.port).not.toBe(stalled.port);
    // store2's primary holds every write: its part of the message waits (within the Cluster's 10 s
    // enqueue timeout) while store1's commits.
    await cluster.nodeClient(stalled.port).call('CLIENT', 'PAUSE', 30_000, 'WRITE');
    try {
      const { dialog } = await SmtpDialog.open(world.node.smtpPort);
      for (const line of ['EHLO client.test', 'MAIL FROM:<sender@remote.test>']) await dialog.command(line);
      for (const user of ['alice@example.com', 'bob@example.com']) await dialog.command(`RCPT TO:<${user}>`);
      expect(await dialog.command('DATA')).toMatch(/^354/);
      dialog.write(`${MESSAGE.replace(/\n/g, '\r\n')}\r\n.\r\n`);
      await waitFor(
        async () => (await cluster.client.zcard(keys.mailstoreBacklog('store1'))) === 1,
        5000,
        "store1's part",
      );
      await world.node.kill();
      expect(await dialog.reply()).toBe(''); // the connection closed without a reply
    } finally {
      await cluster.nodeClient(stalled.port).call('CLIENT', 'UNPAUSE');
    }
    // The dead node's transaction for store2 never ran: nothing of the message is on its shard.
    expect(await cluster.client.zcard(keys.mailstoreBacklog('store2'))).toBe(0);
    expect(await cluster.nodeClient(stalled.port).keys(keys.jobBody('store2', '*'))).toEqual([]);

    // The sender had no 250, so it sends the message again (to the node, restarted).
    await world.node.start();
    const replies = await sendRaw(
      world.node.smtpPort,
      'sender@remote.test',
      ['alice@example.com', 'bob@example.com'],
      MESSAGE,
    );
    expect(replies.at(-1)).toMatch(/^250/);
    for (const store of ['store1', 'store2']) await world.cli('release', store, '--reason', 'counted', '--by', 'e2e');
    const copies = (store: 'store1' | 'store2', user: string) =>
      world!.stores[store].messages(user).filter((text) => text.includes(MESSAGE_ID)).length;
    await waitFor(
      async () => (await world!.status()).every(({ backlog, counts }) => backlog.messages === 0 && counts.active === 0),
      30_000,
      'every queue empty',
    );
    const figures = { store1: copies('store1', 'alice@example.com'), store2: copies('store2', 'bob@example.com') };
    console.info(`commit crash on a Cluster: ${JSON.stringify(figures)}`);
    expect(figures).toEqual({ store1: 2, store2: 1 });
  }, 120_000);
});
